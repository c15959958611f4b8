use envoy_types::pb::google::protobuf::{Any, Duration};
use mesh_common::api::HttpRoute;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::{
    mesh_config::MeshConfig,
    model::{Objects, Snapshot},
    translate::{gateway::Scope, http_route},
};

fn translate(fault: Value) -> Option<HttpFault> {
    http_fault(&serde_json::from_value(fault).unwrap())
}

fn percent(numerator: u32, denominator: DenominatorType) -> Option<FractionalPercent> {
    Some(FractionalPercent {
        numerator,
        denominator: denominator as i32,
    })
}

fn fixed(seconds: i64, nanos: i32) -> Option<FaultDelaySecifier> {
    Some(FaultDelaySecifier::FixedDelay(Duration { seconds, nanos }))
}

/// Istio's fault-injection task: jason's requests to ratings wait 7 s.
#[test]
fn a_fixed_delay_for_a_percentage_of_requests() {
    assert_eq!(
        translate(json!({"delay": {"percentage": {"value": 100.0}, "fixedDelay": "7s"}})),
        Some(HttpFault {
            delay: Some(FaultDelay {
                percentage: percent(1_000_000, DenominatorType::Million),
                fault_delay_secifier: fixed(7, 0),
            }),
            ..HttpFault::default()
        })
    );
    assert_eq!(
        translate(json!({"delay": {"percentage": {"value": 0.1}, "fixedDelay": "1.5s"}})),
        Some(HttpFault {
            delay: Some(FaultDelay {
                percentage: percent(1_000, DenominatorType::Million),
                fault_delay_secifier: fixed(1, 500_000_000),
            }),
            ..HttpFault::default()
        })
    );
}

/// Istio's fault-injection task: jason's requests to ratings fail with HTTP 500.
#[test]
fn an_http_abort_for_a_percentage_of_requests() {
    assert_eq!(
        translate(json!({"abort": {"percentage": {"value": 12.5}, "httpStatus": 500}})),
        Some(HttpFault {
            abort: Some(FaultAbort {
                percentage: percent(125_000, DenominatorType::Million),
                error_type: Some(ErrorType::HttpStatus(500)),
                ..FaultAbort::default()
            }),
            ..HttpFault::default()
        })
    );
}

/// Without `percentage`, Istio faults no request: a delay takes the deprecated `percent` (out of
/// a hundred, zero when unset too), an abort sends no percentage, which Envoy reads as zero.
#[test]
fn without_a_percentage_no_request_is_faulted_as_in_istio() {
    assert_eq!(
        translate(json!({
            "delay": {"percent": 50, "fixedDelay": "2s"},
            "abort": {"httpStatus": 503},
        })),
        Some(HttpFault {
            delay: Some(FaultDelay {
                percentage: percent(50, DenominatorType::Hundred),
                fault_delay_secifier: fixed(2, 0),
            }),
            abort: Some(FaultAbort {
                percentage: None,
                error_type: Some(ErrorType::HttpStatus(503)),
                ..FaultAbort::default()
            }),
            ..HttpFault::default()
        })
    );
    // `percentage` wins over `percent`.
    let both = translate(json!({
        "delay": {"percent": 50, "percentage": {"value": 5.0}, "fixedDelay": "2s"},
    }));
    assert_eq!(
        both.and_then(|f| f.delay).and_then(|d| d.percentage),
        percent(50_000, DenominatorType::Million)
    );
    let neither = translate(json!({"delay": {"fixedDelay": "2s"}}));
    assert_eq!(
        neither.and_then(|f| f.delay).and_then(|d| d.percentage),
        percent(0, DenominatorType::Hundred)
    );
}

/// Istio's `SupportedGRPCStatus`: the status name becomes its code, from `OK` to
/// `UNAUTHENTICATED`.
#[test]
fn a_grpc_abort_sends_the_status_code() {
    let abort = |status: &str| {
        translate(json!({"abort": {"percentage": {"value": 50.0}, "grpcStatus": status}}))
            .and_then(|f| f.abort)
    };
    assert_eq!(
        abort("UNAVAILABLE"),
        Some(FaultAbort {
            percentage: percent(500_000, DenominatorType::Million),
            error_type: Some(ErrorType::GrpcStatus(14)),
            ..FaultAbort::default()
        })
    );
    let codes: Vec<Option<ErrorType>> = ["OK", "DEADLINE_EXCEEDED", "NOT_FOUND", "UNAUTHENTICATED"]
        .into_iter()
        .map(|status| abort(status).and_then(|a| a.error_type))
        .collect();
    assert_eq!(
        codes,
        [
            Some(ErrorType::GrpcStatus(0)),
            Some(ErrorType::GrpcStatus(4)),
            Some(ErrorType::GrpcStatus(5)),
            Some(ErrorType::GrpcStatus(16)),
        ]
    );
    // Validation rejects an unknown name; translation never guesses a code for one.
    assert_eq!(abort("unavailable"), None);
}

/// An exponential delay and an HTTP/2 error abort have no translation: the rest of the fault
/// stays.
#[test]
fn what_cannot_be_built_is_left_out() {
    assert_eq!(
        translate(json!({
            "delay": {"percentage": {"value": 100.0}, "exponentialDelay": "1s"},
            "abort": {"percentage": {"value": 100.0}, "httpStatus": 418},
        })),
        Some(HttpFault {
            abort: Some(FaultAbort {
                percentage: percent(1_000_000, DenominatorType::Million),
                error_type: Some(ErrorType::HttpStatus(418)),
                ..FaultAbort::default()
            }),
            ..HttpFault::default()
        })
    );
    assert_eq!(
        translate(json!({
            "delay": {"percentage": {"value": 100.0}, "exponentialDelay": "1s"},
            "abort": {"percentage": {"value": 100.0}, "http2Error": "REFUSED_STREAM"},
        })),
        None
    );
    assert_eq!(translate(json!({})), None);
}

#[test]
fn the_connection_manager_filter_has_an_empty_config() {
    let filter = filter();
    assert_eq!(filter.name, "envoy.filters.http.fault");
    let Some(http_filter::ConfigType::TypedConfig(config)) = filter.config_type else {
        panic!("the filter has a typed config");
    };
    assert_eq!(
        config.type_url,
        "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"
    );
    assert_eq!(config.value, Vec::<u8>::new());
}

/// The per-route configs of each Envoy route of a VirtualService HTTP rule.
fn per_route(rule: Value) -> Vec<Vec<(String, Any)>> {
    let snapshot = Snapshot::build(&Objects::default(), &MeshConfig::default());
    let rule: HttpRoute = serde_json::from_value(rule).unwrap();
    http_route::routes(
        &snapshot,
        "default",
        9080,
        &rule,
        http_route::Caller::unlabelled(Scope::Mesh, "default"),
    )
    .into_iter()
    .map(|r| r.typed_per_filter_config.into_iter().collect())
    .collect()
}

/// Every route of a rule with a fault carries it, under the filter's name; a rule whose fault
/// has nothing Envoy can build carries none.
#[test]
fn each_route_of_the_rule_carries_its_fault() {
    let abort = json!({"abort": {"percentage": {"value": 100.0}, "httpStatus": 500}});
    let expected = (
        "envoy.filters.http.fault".to_string(),
        pack_any(translate(abort.clone()).unwrap()),
    );
    assert_eq!(
        per_route(json!({
            "match": [{"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/b"}}],
            "fault": abort,
            "route": [{"destination": {"host": "ratings"}}],
        })),
        [vec![expected.clone()], vec![expected]]
    );
    assert_eq!(
        per_route(json!({
            "fault": {"abort": {"http2Error": "REFUSED_STREAM"}},
            "route": [{"destination": {"host": "ratings"}}],
        })),
        [vec![]]
    );
    assert_eq!(
        per_route(json!({"route": [{"destination": {"host": "ratings"}}]})),
        [vec![]]
    );
}
