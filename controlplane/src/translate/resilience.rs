//! What keeps a cluster from being overwhelmed or from sending to broken endpoints: its circuit
//! breakers, from a DestinationRule's `connectionPool` limits, and its outlier detection, from
//! `outlierDetection`; and how far apart a route's retries go, from a VirtualService's
//! `retries.backoff` — as Istio translates them.

use envoy_types::pb::{
    envoy::config::{
        cluster::v3::{CircuitBreakers, OutlierDetection, circuit_breakers::Thresholds},
        route::v3::retry_policy::RetryBackOff,
    },
    google::protobuf::UInt32Value,
};
use mesh_common::api::{self, ConnectionPoolSettings};

use super::duration;

/// Istio's circuit-breaker limit where the DestinationRule sets none: effectively unlimited, so
/// that Envoy's own defaults (1024 connections, 3 retries) never cap a busy service by
/// surprise.
const UNLIMITED: u32 = u32::MAX;

/// How often Envoy enforces an ejection its detector asks for, in percent: always.
const ALWAYS: u32 = 100;

/// The thresholds of the default priority, as Istio sets them: `tcp.maxConnections` →
/// `max_connections`, `http.http1MaxPendingRequests` → `max_pending_requests`,
/// `http.http2MaxRequests` → `max_requests`, `http.maxRetries` → `max_retries`. A limit that is
/// unset, zero or negative stays unlimited, as in Istio, which cannot tell zero from unset.
pub fn circuit_breakers(pool: Option<&ConnectionPoolSettings>) -> CircuitBreakers {
    let tcp = pool.and_then(|p| p.tcp.as_ref());
    let http = pool.and_then(|p| p.http.as_ref());
    let limit = |value: Option<i32>| {
        let value = value
            .and_then(|v| u32::try_from(v).ok())
            .filter(|&v| v > 0)
            .unwrap_or(UNLIMITED);
        Some(UInt32Value { value })
    };
    CircuitBreakers {
        thresholds: vec![Thresholds {
            max_connections: limit(tcp.and_then(|t| t.max_connections)),
            max_pending_requests: limit(http.and_then(|h| h.http1_max_pending_requests)),
            max_requests: limit(http.and_then(|h| h.http2_max_requests)),
            max_retries: limit(http.and_then(|h| h.max_retries)),
            track_remaining: true,
            ..Thresholds::default()
        }],
        ..CircuitBreakers::default()
    }
}

/// Istio's outlier detection: ejection after `consecutive5xxErrors` 5xx responses or
/// `consecutiveGatewayErrors` gateway errors (502, 503, 504) in a row, each enforced always —
/// or never, when the user wrote 0; the `interval` between sweeps, the `baseEjectionTime` and
/// the `maxEjectionPercent` of the pool that may be out at once. Success-rate ejection, on by
/// default in Envoy, is turned off. `None` without `outlierDetection`: no endpoint is ever
/// ejected.
pub fn outlier_detection(outlier: Option<&api::OutlierDetection>) -> Option<OutlierDetection> {
    let outlier = outlier?;
    let uint = |value: u32| Some(UInt32Value { value });
    let enforcing = |threshold: u32| uint(if threshold > 0 { ALWAYS } else { 0 });
    let time = |d: &Option<api::Duration>| {
        d.as_ref()
            .and_then(|d| d.parse().ok())
            .map(|d: std::time::Duration| duration(d))
    };
    let mut out = OutlierDetection {
        enforcing_success_rate: uint(0),
        interval: time(&outlier.interval),
        base_ejection_time: time(&outlier.base_ejection_time),
        max_ejection_percent: outlier
            .max_ejection_percent
            .and_then(|p| u32::try_from(p).ok())
            .filter(|&p| p > 0)
            .and_then(uint),
        ..OutlierDetection::default()
    };
    if let Some(errors) = outlier.consecutive_5xx_errors {
        out.consecutive_5xx = uint(errors);
        out.enforcing_consecutive_5xx = enforcing(errors);
    }
    if let Some(errors) = outlier.consecutive_gateway_errors {
        out.consecutive_gateway_failure = uint(errors);
        out.enforcing_consecutive_gateway_failure = enforcing(errors);
    }
    Some(out)
}

/// Istio's `retries.backoff`: the base interval of Envoy's exponential back-off between
/// retries, and nothing else — the maximum stays Envoy's, ten times the base. Unset, Envoy's
/// 25ms base applies. Validation keeps the interval at 1ms or more, as Envoy requires.
pub fn retry_back_off(backoff: Option<&api::Duration>) -> Option<RetryBackOff> {
    let base: std::time::Duration = backoff?.parse().ok()?;
    Some(RetryBackOff {
        base_interval: Some(duration(base)),
        max_interval: None,
    })
}

#[cfg(test)]
mod tests;
