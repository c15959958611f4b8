//! Reports on DestinationRule traffic policies, whose support differs field by field.

use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

/// Istio's circuit-breaking task: the limits, connection lifetimes, stream caps and outlier
/// detection are all honoured, at every level, and pass silently.
#[test]
fn connection_limits_and_outlier_detection_are_not_reported() {
    let policy = json!({
        "connectionPool": {
            "tcp": {"maxConnections": 1, "connectTimeout": "1s"},
            "http": {
                "http1MaxPendingRequests": 1,
                "http2MaxRequests": 2,
                "maxRetries": 3,
                "maxRequestsPerConnection": 1,
                "idleTimeout": "1m",
                "useClientProtocol": true,
                "maxConcurrentStreams": 10,
            },
        },
        "outlierDetection": {
            "consecutive5xxErrors": 1,
            "consecutiveGatewayErrors": 2,
            "interval": "1s",
            "baseEjectionTime": "3m",
            "maxEjectionPercent": 100,
            "minHealthPercent": 50,
        },
    });
    let document = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": {
            "host": "reviews",
            "trafficPolicy": policy,
            "subsets": [{"name": "v1", "labels": {"version": "v1"}, "trafficPolicy": policy}],
        },
    });
    let resource = decode(&document).unwrap().resource;
    assert_eq!(warnings(&report(&resource)), owned(&[]));
}
