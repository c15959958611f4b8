use envoy_types::pb::envoy::config::route::v3::route_action::RequestMirrorPolicy;
use mesh_common::path::FieldPath;
use mesh_xds::json::from_yaml;
use rand::{SeedableRng, rngs::SmallRng};

use super::*;

fn compile(yaml: &str) -> Result<Vec<MirrorPolicy>, FieldError> {
    let policy: RequestMirrorPolicy = from_yaml(yaml).unwrap();
    MirrorPolicy::compile_all(
        &[policy],
        &FieldPath::root().field("request_mirror_policies"),
    )
}

fn reason(yaml: &str) -> String {
    let error = compile(yaml).unwrap_err();
    format!("{}: {}", error.path, error.reason)
}

#[test]
fn without_a_fraction_every_request_is_mirrored() {
    let policies = compile("cluster: shadow").unwrap();
    assert_eq!(
        policies,
        vec![MirrorPolicy {
            cluster: "shadow".to_owned(),
            fraction: Fraction::ALL,
            suffix_host: true,
        }]
    );
}

#[test]
fn the_fractions_default_value_is_the_share() {
    let policies = compile(
        "{ cluster: shadow, runtime_fraction: { runtime_key: k, default_value: { numerator: 250000, denominator: MILLION } }, trace_sampled: false }",
    )
    .unwrap();
    assert_eq!(
        policies[0].fraction,
        Fraction {
            numerator: 250_000,
            denominator: 1_000_000
        }
    );
    let mut rng = SmallRng::seed_from_u64(7);
    let sampled = (0..10_000).filter(|_| policies[0].sample(&mut rng)).count();
    assert!((2_300..2_700).contains(&sampled), "{sampled}");
}

#[test]
fn a_zero_fraction_mirrors_nothing() {
    let policies =
        compile("{ cluster: shadow, runtime_fraction: { default_value: { numerator: 0 } } }")
            .unwrap();
    let mut rng = SmallRng::seed_from_u64(1);
    assert_eq!(
        (0..1_000).filter(|_| policies[0].sample(&mut rng)).count(),
        0
    );
}

#[test]
fn the_shadow_host_gets_the_suffix_before_the_port() {
    let policy = &compile("cluster: shadow").unwrap()[0];
    assert_eq!(policy.shadow_host("shop"), "shop-shadow");
    assert_eq!(policy.shadow_host("shop:8080"), "shop-shadow:8080");
    assert_eq!(policy.shadow_host("10.1.2.3:80"), "10.1.2.3-shadow:80");
    assert_eq!(policy.shadow_host("[::1]:80"), "[::1]-shadow:80");
    assert_eq!(policy.shadow_host("[::1]"), "[::1]-shadow");
    let plain =
        &compile("{ cluster: shadow, disable_shadow_host_suffix_append: true }").unwrap()[0];
    assert_eq!(plain.shadow_host("shop:8080"), "shop:8080");
}

#[test]
fn unsupported_fields_are_refused_by_path() {
    assert_eq!(
        reason("{ cluster: shadow, cluster_header: x-cluster }"),
        "request_mirror_policies[0].cluster_header: not supported by mesh-proxy"
    );
    assert_eq!(
        reason("{ cluster: shadow, host_rewrite_literal: other }"),
        "request_mirror_policies[0].host_rewrite_literal: not supported by mesh-proxy"
    );
    assert_eq!(
        reason("{ cluster: shadow, request_headers_mutations: [ { remove: x-a } ] }"),
        "request_mirror_policies[0].request_headers_mutations: not supported by mesh-proxy"
    );
    assert_eq!(
        reason("{ runtime_fraction: { default_value: { numerator: 1 } } }"),
        "request_mirror_policies[0].cluster: must not be empty"
    );
    assert_eq!(
        reason("{ cluster: shadow, runtime_fraction: { runtime_key: k } }"),
        "request_mirror_policies[0].runtime_fraction.default_value: is required"
    );
}
