//! A `Cluster`'s `outlier_detection` → [`OutlierConfig`].
//!
//! Honoured, with Envoy's defaults: `consecutive_5xx` (5) and `enforcing_consecutive_5xx`
//! (100), `consecutive_gateway_failure` (5) and `enforcing_consecutive_gateway_failure` (0),
//! `interval` (10 s), `base_ejection_time` (30 s), `max_ejection_time` (300 s, or
//! `base_ejection_time` when longer; refused when shorter than it, as Envoy does),
//! `max_ejection_time_jitter` (0), `max_ejection_percent` (10) and `always_eject_one_host`
//! (false). See [`OutlierDetector`](crate::balance::OutlierDetector) for what they do.
//!
//! Refused: `enforcing_success_rate` unless it is 0 — Envoy's default of 100 turns on
//! success-rate ejection, which mesh-proxy does not implement, so Istio always sends 0;
//! `enforcing_failure_percentage` other than 0 (failure-percentage ejection);
//! `split_external_local_origin_errors` (local failures count as 503 and 504); `monitors`;
//! an enforcing value or `max_ejection_percent` above 100, and a zero `interval`,
//! `base_ejection_time` or `max_ejection_time`, which Envoy's validation refuses.
//!
//! Ignored, as they only take effect with something refused above:
//! `success_rate_minimum_hosts`, `success_rate_request_volume`, `success_rate_stdev_factor`
//! (success rate); `failure_percentage_threshold`, `failure_percentage_minimum_hosts`,
//! `failure_percentage_request_volume` (failure percentage); `consecutive_local_origin_failure`,
//! `enforcing_consecutive_local_origin_failure`, `enforcing_local_origin_success_rate`,
//! `enforcing_failure_percentage_local_origin` (split local-origin errors); and
//! `successful_active_health_check_uneject_host`, since there is no active health checking.

use std::time::Duration;

use envoy_types::pb::{
    envoy::config::cluster::v3::OutlierDetection,
    google::protobuf::{Duration as PbDuration, UInt32Value},
};
use mesh_common::path::FieldPath;

use super::common::duration;
use crate::{
    balance::{DEFAULT_MAX_EJECTION_TIME, OutlierConfig},
    config_error::{FieldError, reject_if},
};

/// Compiles `outlier_detection` (at `path`).
pub(super) fn outlier_detection(
    o: &OutlierDetection,
    path: &FieldPath,
) -> Result<OutlierConfig, FieldError> {
    if o.enforcing_success_rate
        .as_ref()
        .is_none_or(|e| e.value != 0)
    {
        return Err(FieldError::new(
            path.field("enforcing_success_rate"),
            "success-rate outlier detection is not supported by mesh-proxy; set it to 0",
        ));
    }
    if o.enforcing_failure_percentage
        .as_ref()
        .is_some_and(|e| e.value != 0)
    {
        return Err(FieldError::new(
            path.field("enforcing_failure_percentage"),
            "failure-percentage outlier detection is not supported by mesh-proxy; set it to 0",
        ));
    }
    reject_if(
        o.split_external_local_origin_errors,
        path,
        "split_external_local_origin_errors",
    )?;
    reject_if(!o.monitors.is_empty(), path, "monitors")?;
    let defaults = OutlierConfig::default();
    let count =
        |value: &Option<UInt32Value>, default: u32| value.as_ref().map_or(default, |v| v.value);
    let percent = |value: &Option<UInt32Value>, default: u32, name: &str| match value {
        Some(v) if v.value > 100 => Err(FieldError::new(path.field(name), "must be at most 100")),
        Some(v) => Ok(v.value),
        None => Ok(default),
    };
    let base_ejection_time = positive(
        &o.base_ejection_time,
        defaults.base_ejection_time,
        "base_ejection_time",
        path,
    )?;
    let max_ejection_time = positive(
        &o.max_ejection_time,
        DEFAULT_MAX_EJECTION_TIME.max(base_ejection_time),
        "max_ejection_time",
        path,
    )?;
    if max_ejection_time < base_ejection_time {
        return Err(FieldError::new(
            path.field("max_ejection_time"),
            "must not be shorter than base_ejection_time",
        ));
    }
    let max_ejection_time_jitter = match &o.max_ejection_time_jitter {
        None => Duration::ZERO,
        Some(d) => duration(d, &path.field("max_ejection_time_jitter"))?,
    };
    Ok(OutlierConfig {
        consecutive_5xx: count(&o.consecutive_5xx, defaults.consecutive_5xx),
        enforcing_consecutive_5xx: percent(
            &o.enforcing_consecutive_5xx,
            defaults.enforcing_consecutive_5xx,
            "enforcing_consecutive_5xx",
        )?,
        consecutive_gateway_failure: count(
            &o.consecutive_gateway_failure,
            defaults.consecutive_gateway_failure,
        ),
        enforcing_consecutive_gateway_failure: percent(
            &o.enforcing_consecutive_gateway_failure,
            defaults.enforcing_consecutive_gateway_failure,
            "enforcing_consecutive_gateway_failure",
        )?,
        interval: positive(&o.interval, defaults.interval, "interval", path)?,
        base_ejection_time,
        max_ejection_time,
        max_ejection_time_jitter,
        max_ejection_percent: percent(
            &o.max_ejection_percent,
            defaults.max_ejection_percent,
            "max_ejection_percent",
        )?,
        always_eject_one_host: o.always_eject_one_host.as_ref().is_some_and(|b| b.value),
    })
}

/// A duration that must be greater than zero, or `default` when unset.
fn positive(
    value: &Option<PbDuration>,
    default: Duration,
    name: &str,
    path: &FieldPath,
) -> Result<Duration, FieldError> {
    let Some(d) = value else {
        return Ok(default);
    };
    let d = duration(d, &path.field(name))?;
    if d.is_zero() {
        return Err(FieldError::new(path.field(name), "must be greater than 0"));
    }
    Ok(d)
}
