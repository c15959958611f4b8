use envoy_types::pb::google::protobuf::Duration;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

fn breakers(pool: Value) -> CircuitBreakers {
    circuit_breakers(Some(&serde_json::from_value(pool).unwrap()))
}

fn outlier(value: Value) -> Option<OutlierDetection> {
    outlier_detection(Some(&serde_json::from_value(value).unwrap()))
}

fn thresholds(connections: u32, pending: u32, requests: u32, retries: u32) -> CircuitBreakers {
    let limit = |value| Some(UInt32Value { value });
    CircuitBreakers {
        thresholds: vec![Thresholds {
            max_connections: limit(connections),
            max_pending_requests: limit(pending),
            max_requests: limit(requests),
            max_retries: limit(retries),
            track_remaining: true,
            ..Thresholds::default()
        }],
        ..CircuitBreakers::default()
    }
}

fn uint(value: u32) -> Option<UInt32Value> {
    Some(UInt32Value { value })
}

const MAX: u32 = u32::MAX;

#[test]
fn each_limit_becomes_its_threshold() {
    assert_eq!(
        breakers(json!({
            "tcp": {"maxConnections": 1, "connectTimeout": "1s"},
            "http": {"http1MaxPendingRequests": 2, "http2MaxRequests": 3, "maxRetries": 4},
        })),
        thresholds(1, 2, 3, 4)
    );
}

/// Istio's circuit-breaking task: one connection, one pending request, the rest unlimited.
#[test]
fn unset_zero_and_negative_limits_stay_unlimited_as_in_istio() {
    assert_eq!(
        breakers(json!({
            "tcp": {"maxConnections": 1},
            "http": {"http1MaxPendingRequests": 1, "maxRequestsPerConnection": 1},
        })),
        thresholds(1, 1, MAX, MAX)
    );
    assert_eq!(
        breakers(json!({
            "tcp": {"maxConnections": 0},
            "http": {"http2MaxRequests": -1, "maxRetries": 0},
        })),
        thresholds(MAX, MAX, MAX, MAX)
    );
    assert_eq!(circuit_breakers(None), thresholds(MAX, MAX, MAX, MAX));
}

#[test]
fn outlier_detection_as_istio_builds_it() {
    assert_eq!(
        outlier(json!({
            "consecutive5xxErrors": 7,
            "consecutiveGatewayErrors": 3,
            "interval": "5s",
            "baseEjectionTime": "1m30s",
            "maxEjectionPercent": 50,
        })),
        Some(OutlierDetection {
            consecutive_5xx: uint(7),
            enforcing_consecutive_5xx: uint(100),
            consecutive_gateway_failure: uint(3),
            enforcing_consecutive_gateway_failure: uint(100),
            interval: Some(Duration {
                seconds: 5,
                nanos: 0
            }),
            base_ejection_time: Some(Duration {
                seconds: 90,
                nanos: 0
            }),
            max_ejection_percent: uint(50),
            enforcing_success_rate: uint(0),
            ..OutlierDetection::default()
        })
    );
}

/// A detector set to 0 is turned off (never enforced); one left unset keeps Envoy's default;
/// success-rate ejection is always off.
#[test]
fn zero_turns_a_detector_off_and_unset_leaves_envoy_s_default() {
    assert_eq!(
        outlier(json!({"consecutive5xxErrors": 0, "maxEjectionPercent": 0})),
        Some(OutlierDetection {
            consecutive_5xx: uint(0),
            enforcing_consecutive_5xx: uint(0),
            enforcing_success_rate: uint(0),
            ..OutlierDetection::default()
        })
    );
    assert_eq!(
        outlier(json!({"consecutiveGatewayErrors": 0})),
        Some(OutlierDetection {
            consecutive_gateway_failure: uint(0),
            enforcing_consecutive_gateway_failure: uint(0),
            enforcing_success_rate: uint(0),
            ..OutlierDetection::default()
        })
    );
    assert_eq!(
        outlier(json!({})),
        Some(OutlierDetection {
            enforcing_success_rate: uint(0),
            ..OutlierDetection::default()
        })
    );
    assert_eq!(outlier_detection(None), None);
}

/// Istio's `retries.backoff` is the base interval alone; Envoy's maximum (ten times the base)
/// applies. Without it, or without retries, no back-off is sent.
#[test]
fn retries_backoff_is_the_base_interval() {
    use envoy_types::pb::envoy::config::route::v3::route::Action;

    use crate::{
        mesh_config::MeshConfig,
        model::{Objects, Snapshot},
        translate::{gateway::Scope, http_route},
    };

    let back_off = |rule: Value| -> Vec<Option<RetryBackOff>> {
        let snapshot = Snapshot::build(&Objects::default(), &MeshConfig::default());
        let rule = serde_json::from_value(rule).unwrap();
        http_route::routes(
            &snapshot,
            "default",
            9080,
            &rule,
            http_route::Caller::unlabelled(Scope::Mesh, "default"),
        )
        .into_iter()
        .map(|route| match route.action {
            Some(Action::Route(action)) => action.retry_policy.and_then(|p| p.retry_back_off),
            other => panic!("a route action: {other:?}"),
        })
        .collect()
    };
    let route = json!([{"destination": {"host": "ratings"}}]);
    assert_eq!(
        back_off(json!({
            "retries": {"attempts": 3, "retryOn": "5xx", "backoff": "250ms"},
            "route": route,
        })),
        [Some(RetryBackOff {
            base_interval: Some(Duration {
                seconds: 0,
                nanos: 250_000_000
            }),
            max_interval: None,
        })]
    );
    assert_eq!(
        back_off(json!({"retries": {"attempts": 3}, "route": route})),
        [None]
    );
    assert_eq!(back_off(json!({"route": route})), [None]);
    assert_eq!(
        retry_back_off(Some(&serde_json::from_value(json!("1m30s")).unwrap())),
        Some(RetryBackOff {
            base_interval: Some(Duration {
                seconds: 90,
                nanos: 0
            }),
            max_interval: None,
        })
    );
}
