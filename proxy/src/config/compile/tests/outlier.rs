//! A cluster's `outlier_detection`: Envoy's defaults, Istio's translation, and the refusals.

use std::time::Duration;

use super::{cluster, eds_cluster};
use crate::{balance::OutlierConfig, config::compile_cluster};

/// The compiled `outlier_detection` of an EDS cluster with `fields`.
fn outlier(fields: &str) -> Result<Option<OutlierConfig>, String> {
    compile_cluster(&cluster(&format!(
        "name: c\ntype: EDS\noutlier_detection: {{ {fields} }}"
    )))
    .map(|c| c.outlier.map(|o| o.config().clone()))
    .map_err(|e| e.to_string())
}

#[test]
fn outlier_detection_as_istio_sends_it_with_envoys_defaults() {
    let none = compile_cluster(&eds_cluster("c", "")).unwrap();
    assert!(none.outlier.is_none());
    // A DestinationRule's consecutive5xxErrors 7, interval 5s, baseEjectionTime 1m and
    // maxEjectionPercent 50.
    assert_eq!(
        outlier(
            "enforcing_success_rate: 0, consecutive_5xx: 7, enforcing_consecutive_5xx: 100, \
             interval: 5s, base_ejection_time: 60s, max_ejection_percent: 50"
        ),
        Ok(Some(OutlierConfig {
            consecutive_5xx: 7,
            enforcing_consecutive_5xx: 100,
            interval: Duration::from_secs(5),
            base_ejection_time: Duration::from_secs(60),
            max_ejection_percent: 50,
            ..OutlierConfig::default()
        }))
    );
    assert_eq!(
        outlier("enforcing_success_rate: 0"),
        Ok(Some(OutlierConfig {
            consecutive_5xx: 5,
            enforcing_consecutive_5xx: 100,
            consecutive_gateway_failure: 5,
            enforcing_consecutive_gateway_failure: 0,
            interval: Duration::from_secs(10),
            base_ejection_time: Duration::from_secs(30),
            max_ejection_time: Duration::from_secs(300),
            max_ejection_time_jitter: Duration::ZERO,
            max_ejection_percent: 10,
            always_eject_one_host: false,
        }))
    );
    // Unset, max_ejection_time is the longer of 300 s and base_ejection_time.
    assert_eq!(
        outlier("enforcing_success_rate: 0, base_ejection_time: 600s")
            .map(|o| o.map(|o| o.max_ejection_time)),
        Ok(Some(Duration::from_secs(600)))
    );
    // consecutiveGatewayErrors 2 with consecutive5xxErrors 0; fields that only matter to
    // refused detectors are ignored.
    assert_eq!(
        outlier(
            "enforcing_success_rate: 0, consecutive_5xx: 0, enforcing_consecutive_5xx: 0, \
             consecutive_gateway_failure: 2, enforcing_consecutive_gateway_failure: 100, \
             max_ejection_time: 40s, max_ejection_time_jitter: 1.5s, \
             always_eject_one_host: true, success_rate_minimum_hosts: 3, \
             failure_percentage_threshold: 90, consecutive_local_origin_failure: 2, \
             successful_active_health_check_uneject_host: false"
        ),
        Ok(Some(OutlierConfig {
            consecutive_5xx: 0,
            enforcing_consecutive_5xx: 0,
            consecutive_gateway_failure: 2,
            enforcing_consecutive_gateway_failure: 100,
            max_ejection_time: Duration::from_secs(40),
            max_ejection_time_jitter: Duration::from_millis(1500),
            always_eject_one_host: true,
            ..OutlierConfig::default()
        }))
    );
}

#[test]
fn outlier_detection_refusals_name_the_field() {
    let prefix = "Cluster \"c\": outlier_detection.";
    let cases = [
        (
            "consecutive_5xx: 3",
            "enforcing_success_rate: success-rate outlier detection is not supported by \
             mesh-proxy; set it to 0",
        ),
        (
            "enforcing_success_rate: 100",
            "enforcing_success_rate: success-rate outlier detection is not supported by \
             mesh-proxy; set it to 0",
        ),
        (
            "enforcing_success_rate: 0, enforcing_failure_percentage: 50",
            "enforcing_failure_percentage: failure-percentage outlier detection is not \
             supported by mesh-proxy; set it to 0",
        ),
        (
            "enforcing_success_rate: 0, split_external_local_origin_errors: true",
            "split_external_local_origin_errors: not supported by mesh-proxy",
        ),
        (
            "enforcing_success_rate: 0, monitors: [ { name: m } ]",
            "monitors: not supported by mesh-proxy",
        ),
        (
            "enforcing_success_rate: 0, max_ejection_percent: 101",
            "max_ejection_percent: must be at most 100",
        ),
        (
            "enforcing_success_rate: 0, enforcing_consecutive_5xx: 200",
            "enforcing_consecutive_5xx: must be at most 100",
        ),
        (
            "enforcing_success_rate: 0, interval: 0s",
            "interval: must be greater than 0",
        ),
        (
            "enforcing_success_rate: 0, base_ejection_time: 60s, max_ejection_time: 30s",
            "max_ejection_time: must not be shorter than base_ejection_time",
        ),
    ];
    for (fields, expected) in cases {
        assert_eq!(
            outlier(fields),
            Err(format!("{prefix}{expected}")),
            "{fields}"
        );
    }
}
