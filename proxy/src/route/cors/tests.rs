use mesh_xds::json::from_yaml;
use rand::{SeedableRng, rngs::SmallRng};

use super::*;

fn policy(yaml: &str) -> Arc<CorsPolicy> {
    let p: PbCorsPolicy = from_yaml(yaml).expect("test policy parses");
    Arc::new(CorsPolicy::compile(&p, &FieldPath::root()).expect("compiles"))
}

fn refused(yaml: &str) -> String {
    let p: PbCorsPolicy = from_yaml(yaml).expect("test policy parses");
    let error = CorsPolicy::compile(&p, &FieldPath::parse("typed_per_filter_config.c"))
        .expect_err("refused");
    format!("{}: {}", error.path, error.reason)
}

fn request(pairs: &[(&str, &str)]) -> HeaderMap {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        })
        .collect()
}

fn headers(verdict: &Verdict) -> Vec<(String, String)> {
    let map = match verdict {
        Verdict::Pass => return Vec::new(),
        Verdict::Decorate(map) | Verdict::Preflight(map) => map,
    };
    let mut out: Vec<_> = map
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    out.sort();
    out
}

const ISTIO: &str = "
allow_origin_string_match: [ { exact: 'https://a.example' }, { prefix: 'https://b.' } ]
allow_methods: GET,POST
allow_headers: x-a,x-b
expose_headers: x-c
max_age: '86400'
allow_credentials: true
filter_enabled: { default_value: { numerator: 100 } }
forward_not_matching_preflights: true
";

fn verdict(p: &Arc<CorsPolicy>, method: Method, pairs: &[(&str, &str)]) -> Verdict {
    Policies([Some(p), None]).verdict(&method, &request(pairs), &mut SmallRng::seed_from_u64(1))
}

#[test]
fn a_matching_preflight_is_answered_with_every_allow_header() {
    let p = policy(ISTIO);
    let v = verdict(
        &p,
        Method::OPTIONS,
        &[("origin", "https://a.example"), (REQUEST_METHOD, "PUT")],
    );
    assert!(matches!(v, Verdict::Preflight(_)));
    assert_eq!(
        headers(&v),
        pairs(&[
            ("access-control-allow-origin", "https://a.example"),
            ("access-control-allow-credentials", "true"),
            ("access-control-allow-methods", "GET,POST"),
            ("access-control-allow-headers", "x-a,x-b"),
            ("access-control-max-age", "86400"),
            ("access-control-expose-headers", "x-c"),
        ])
    );
}

#[test]
fn a_simple_request_from_a_matching_origin_gets_origin_credentials_and_expose() {
    let p = policy(ISTIO);
    let v = verdict(&p, Method::GET, &[("origin", "https://b.example")]);
    assert!(matches!(v, Verdict::Decorate(_)));
    assert_eq!(
        headers(&v),
        pairs(&[
            ("access-control-allow-origin", "https://b.example"),
            ("access-control-allow-credentials", "true"),
            ("access-control-expose-headers", "x-c"),
        ])
    );
    // OPTIONS without Access-Control-Request-Method is no preflight.
    let v = verdict(&p, Method::OPTIONS, &[("origin", "https://b.example")]);
    assert!(matches!(v, Verdict::Decorate(_)));
}

#[test]
fn other_origins_and_no_origin_pass_untouched() {
    let p = policy(ISTIO);
    assert_eq!(
        verdict(&p, Method::GET, &[("origin", "https://c.example")]),
        Verdict::Pass
    );
    assert_eq!(verdict(&p, Method::GET, &[]), Verdict::Pass);
    assert_eq!(verdict(&p, Method::GET, &[("origin", "")]), Verdict::Pass);
    // A non-matching preflight is forwarded by default.
    assert_eq!(
        verdict(
            &p,
            Method::OPTIONS,
            &[("origin", "https://c.example"), (REQUEST_METHOD, "GET")]
        ),
        Verdict::Pass
    );
}

#[test]
fn a_non_matching_preflight_not_forwarded_is_answered_without_the_origin() {
    let p = policy(
        "{ allow_origin_string_match: [ { exact: 'https://a.example' } ], allow_methods: GET, forward_not_matching_preflights: false }",
    );
    let v = verdict(
        &p,
        Method::OPTIONS,
        &[("origin", "https://c.example"), (REQUEST_METHOD, "GET")],
    );
    assert!(matches!(v, Verdict::Preflight(_)));
    assert_eq!(
        headers(&v),
        pairs(&[("access-control-allow-methods", "GET")])
    );
}

#[test]
fn wildcards_echo_the_request_and_a_star_origin_allows_all() {
    let p = policy(
        "{ allow_origin_string_match: [ { exact: '*' } ], allow_methods: '*', allow_headers: '*', allow_private_network_access: true }",
    );
    let v = verdict(
        &p,
        Method::OPTIONS,
        &[
            ("origin", "https://any.example"),
            (REQUEST_METHOD, "DELETE"),
            (REQUEST_HEADERS, "x-y"),
            (REQUEST_PRIVATE_NETWORK, "true"),
        ],
    );
    assert_eq!(
        headers(&v),
        pairs(&[
            ("access-control-allow-origin", "https://any.example"),
            ("access-control-allow-methods", "DELETE"),
            ("access-control-allow-headers", "x-y"),
            ("access-control-allow-private-network", "true"),
        ])
    );
}

#[test]
fn the_route_policy_wins_field_by_field_over_the_virtual_hosts() {
    let route = policy("{ allow_methods: PUT }");
    let vhost = policy(
        "{ allow_origin_string_match: [ { exact: 'https://a.example' } ], allow_methods: GET, max_age: '5' }",
    );
    let v = Policies([Some(&route), Some(&vhost)]).verdict(
        &Method::OPTIONS,
        &request(&[("origin", "https://a.example"), (REQUEST_METHOD, "PUT")]),
        &mut SmallRng::seed_from_u64(1),
    );
    assert_eq!(
        headers(&v),
        pairs(&[
            ("access-control-allow-origin", "https://a.example"),
            ("access-control-allow-methods", "PUT"),
            ("access-control-max-age", "5"),
        ])
    );
}

#[test]
fn a_disabled_filter_passes_everything() {
    let p = policy(
        "{ allow_origin_string_match: [ { exact: '*' } ], filter_enabled: { default_value: { numerator: 0 } } }",
    );
    assert_eq!(
        verdict(&p, Method::GET, &[("origin", "https://a")]),
        Verdict::Pass
    );
}

#[test]
fn refusals_name_the_field() {
    assert_eq!(
        refused("shadow_enabled: { default_value: { numerator: 100 } }"),
        "typed_per_filter_config.c.shadow_enabled: not supported by mesh-proxy"
    );
    assert_eq!(
        refused("filter_enabled: { runtime_key: k }"),
        "typed_per_filter_config.c.filter_enabled.default_value: is required"
    );
    assert_eq!(
        refused("allow_methods: \"GET\\n\""),
        "typed_per_filter_config.c.allow_methods: is not a valid header value"
    );
    assert_eq!(
        refused("max_age: \"1\\r\\n2\"").as_str(),
        "typed_per_filter_config.c.max_age: is not a valid header value"
    );
}
