//! `mirror`, `mirrors` and `corsPolicy`, as Istio translates them.

use envoy_types::{
    pb::{
        envoy::{
            config::{
                core::v3::RuntimeFractionalPercent, route::v3::route_action::RequestMirrorPolicy,
            },
            extensions::filters::http::cors::v3::CorsPolicy as PbCorsPolicy,
            r#type::{
                matcher::v3::{RegexMatcher, StringMatcher, string_matcher::MatchPattern},
                v3::{FractionalPercent, fractional_percent::DenominatorType},
            },
        },
        google::protobuf::BoolValue,
    },
    util::pack_any,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{Action, translate};
use crate::translate::http_action::CORS_FILTER;

fn mirror(cluster: &str, numerator: u32, denominator: DenominatorType) -> RequestMirrorPolicy {
    RequestMirrorPolicy {
        cluster: cluster.to_string(),
        runtime_fraction: Some(RuntimeFractionalPercent {
            default_value: Some(FractionalPercent {
                numerator,
                denominator: denominator as i32,
            }),
            ..RuntimeFractionalPercent::default()
        }),
        trace_sampled: Some(BoolValue { value: false }),
        ..RequestMirrorPolicy::default()
    }
}

fn mirrors_of(value: serde_json::Value) -> Vec<RequestMirrorPolicy> {
    let routes = translate(value);
    let Some(Action::Route(action)) = &routes[0].action else {
        panic!("{routes:?}")
    };
    action.request_mirror_policies.clone()
}

const V1: &str = "outbound|9080|v1|reviews.default.svc.cluster.local";
const V2: &str = "outbound|9080|v2|reviews.default.svc.cluster.local";
const V3: &str = "outbound|9080|v3|reviews.default.svc.cluster.local";

fn destination(subset: &str) -> serde_json::Value {
    json!({"host": "reviews", "subset": subset, "port": {"number": 9080}})
}

#[test]
fn a_mirror_without_a_percentage_gets_every_request() {
    assert_eq!(
        mirrors_of(json!({
            "route": [{"destination": destination("v1")}],
            "mirror": destination("v2"),
        })),
        vec![mirror(V2, 100, DenominatorType::Hundred)]
    );
}

#[test]
fn mirror_percentages_as_istio_writes_them() {
    // `mirrorPercentage` in parts per million; it wins over the deprecated `mirrorPercent`.
    assert_eq!(
        mirrors_of(json!({
            "route": [{"destination": destination("v1")}],
            "mirror": destination("v2"),
            "mirrorPercentage": {"value": 12.5},
            "mirrorPercent": 40,
        })),
        vec![mirror(V2, 125_000, DenominatorType::Million)]
    );
    assert_eq!(
        mirrors_of(json!({
            "route": [{"destination": destination("v1")}],
            "mirror": destination("v2"),
            "mirrorPercent": 40,
        })),
        vec![mirror(V2, 40, DenominatorType::Hundred)]
    );
    // Zero, either way, mirrors nothing.
    for zero in [
        json!({"mirrorPercentage": {"value": 0.0}}),
        json!({"mirrorPercent": 0}),
    ] {
        let mut rule = json!({
            "route": [{"destination": destination("v1")}],
            "mirror": destination("v2"),
        });
        for (key, value) in zero.as_object().unwrap() {
            rule[key] = value.clone();
        }
        assert_eq!(mirrors_of(rule), vec![]);
    }
}

#[test]
fn mirrors_follow_the_mirror_each_with_its_percentage() {
    assert_eq!(
        mirrors_of(json!({
            "route": [{"destination": destination("v1")}],
            "mirror": destination("v2"),
            "mirrors": [
                {"destination": destination("v3"), "percentage": {"value": 50.0}},
                {"destination": destination("v1")},
                {"destination": destination("v2"), "percentage": {"value": 0.0}},
            ],
        })),
        vec![
            mirror(V2, 100, DenominatorType::Hundred),
            mirror(V3, 500_000, DenominatorType::Million),
            mirror(V1, 100, DenominatorType::Hundred),
        ]
    );
}

#[test]
fn a_cors_policy_goes_to_every_route_of_the_rule() {
    let routes = translate(json!({
        "match": [{"uri": {"prefix": "/a"}}, {"uri": {"prefix": "/b"}}],
        "route": [{"destination": destination("v1")}],
        "corsPolicy": {
            "allowOrigins": [
                {"exact": "https://app.example"},
                {"prefix": "https://dev."},
                {"regex": ".*\\.example\\.org"},
            ],
            "allowMethods": ["GET", "POST"],
            "allowHeaders": ["authorization", "content-type"],
            "exposeHeaders": ["x-trace"],
            "maxAge": "24h",
            "allowCredentials": true,
        },
    }));
    let expected = PbCorsPolicy {
        allow_origin_string_match: vec![
            StringMatcher {
                match_pattern: Some(MatchPattern::Exact("https://app.example".to_string())),
                ..StringMatcher::default()
            },
            StringMatcher {
                match_pattern: Some(MatchPattern::Prefix("https://dev.".to_string())),
                ..StringMatcher::default()
            },
            StringMatcher {
                match_pattern: Some(MatchPattern::SafeRegex(RegexMatcher {
                    regex: ".*\\.example\\.org".to_string(),
                    ..RegexMatcher::default()
                })),
                ..StringMatcher::default()
            },
        ],
        allow_methods: "GET,POST".to_string(),
        allow_headers: "authorization,content-type".to_string(),
        expose_headers: "x-trace".to_string(),
        max_age: "86400".to_string(),
        allow_credentials: Some(BoolValue { value: true }),
        filter_enabled: Some(RuntimeFractionalPercent {
            default_value: Some(FractionalPercent {
                numerator: 100,
                denominator: DenominatorType::Hundred as i32,
            }),
            ..RuntimeFractionalPercent::default()
        }),
        forward_not_matching_preflights: Some(BoolValue { value: true }),
        ..PbCorsPolicy::default()
    };
    assert_eq!(routes.len(), 2);
    for route in &routes {
        assert_eq!(route.typed_per_filter_config.len(), 1);
        assert_eq!(
            route.typed_per_filter_config[CORS_FILTER],
            pack_any(expected.clone())
        );
    }
}

#[test]
fn deprecated_allow_origin_and_ignored_preflights() {
    let routes = translate(json!({
        "redirect": {"uri": "/elsewhere"},
        "corsPolicy": {
            "allowOrigin": ["https://old.example"],
            "unmatchedPreflights": "IGNORE",
        },
    }));
    let expected = PbCorsPolicy {
        allow_origin_string_match: vec![StringMatcher {
            match_pattern: Some(MatchPattern::Exact("https://old.example".to_string())),
            ..StringMatcher::default()
        }],
        filter_enabled: Some(RuntimeFractionalPercent {
            default_value: Some(FractionalPercent {
                numerator: 100,
                denominator: DenominatorType::Hundred as i32,
            }),
            ..RuntimeFractionalPercent::default()
        }),
        forward_not_matching_preflights: Some(BoolValue { value: false }),
        ..PbCorsPolicy::default()
    };
    assert_eq!(
        routes[0].typed_per_filter_config[CORS_FILTER],
        pack_any(expected)
    );
}
