//! Every refusal, with the exact `error_detail` an operator would read.

use envoy_types::pb::{
    envoy::config::{
        core::v3::{DataSource, data_source::Specifier},
        route::v3::{
            RetryPolicy, Vhds, retry_policy::RetryHostPredicate, route_action::HostRewriteSpecifier,
        },
    },
    google::protobuf::Any,
};

use super::*;

const PREFIX: &str = "RouteConfiguration \"outbound|9080||reviews\": ";

/// The error for a configuration of one catch-all host with `routes`.
fn refused_routes(routes: Vec<PbRoute>) -> String {
    refused(config(vec![vhost("v", &["*"], routes)]))
}

fn refused(c: RouteConfiguration) -> String {
    let error = RouteTable::compile(&c).expect_err("refused");
    let text = error.to_string();
    assert_eq!(error.kind, "RouteConfiguration");
    assert_eq!(error.name, "outbound|9080||reviews");
    text.strip_prefix(PREFIX)
        .expect("names the resource")
        .to_owned()
}

pub(super) fn refused_action(action: RouteAction) -> String {
    refused_routes(vec![route(prefix("/"), action)])
}

#[test]
fn bad_path_regex() {
    let routes = vec![
        route(prefix("/a"), forward("a")),
        route(prefix("/b"), forward("b")),
        route(
            path_match(PathSpecifier::SafeRegex(regex("a(b"))),
            forward("c"),
        ),
    ];
    assert_eq!(
        refused_routes(routes),
        "virtual_hosts[0].routes[2].match.safe_regex: regex \"a(b\" does not compile: \
         unclosed group"
    );
}

#[test]
fn bad_header_regex() {
    let mut m = prefix("/");
    m.headers = vec![header(
        "x",
        Some(HeaderMatchSpecifier::StringMatch(string(
            MatchPattern::SafeRegex(regex("[z-a]")),
            false,
        ))),
        false,
    )];
    assert_eq!(
        refused_routes(vec![route(m, forward("c"))]),
        "virtual_hosts[0].routes[0].match.headers[0].string_match.safe_regex: regex \"[z-a]\" \
         does not compile: invalid character class range, the start must be <= the end"
    );
}

#[test]
fn unsupported_cluster_specifiers() {
    for (spec, field) in [
        (
            ClusterSpecifier::ClusterHeader("x-cluster".into()),
            "cluster_header",
        ),
        (
            ClusterSpecifier::ClusterSpecifierPlugin("plugin".into()),
            "cluster_specifier_plugin",
        ),
    ] {
        let action = RouteAction {
            cluster_specifier: Some(spec),
            ..Default::default()
        };
        assert_eq!(
            refused_action(action),
            format!("virtual_hosts[0].routes[0].route.{field}: not supported by mesh-proxy")
        );
    }
    assert_eq!(
        refused_action(RouteAction::default()),
        "virtual_hosts[0].routes[0].route: one of cluster or weighted_clusters is required"
    );
    assert_eq!(
        refused_action(forward("")),
        "virtual_hosts[0].routes[0].route.cluster: must not be empty"
    );
}

#[test]
fn typed_per_filter_config_changes_semantics() {
    let mut r = route(prefix("/"), forward("c"));
    r.typed_per_filter_config
        .insert("envoy.filters.http.lua".into(), Any::default());
    assert_eq!(
        refused_routes(vec![r]),
        "virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.lua: not supported by mesh-proxy"
    );
    // The CORS filter's config is served on routes and virtual hosts, and must be one.
    let mut r = route(prefix("/"), forward("c"));
    r.typed_per_filter_config
        .insert("envoy.filters.http.cors".into(), Any::default());
    assert_eq!(
        refused_routes(vec![r]),
        "virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.cors: expected type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy, got \"\""
    );
    // The fault filter's config is served, and must be one.
    let mut r = route(prefix("/"), forward("c"));
    r.typed_per_filter_config
        .insert("envoy.filters.http.fault".into(), Any::default());
    assert_eq!(
        refused_routes(vec![r]),
        "virtual_hosts[0].routes[0].typed_per_filter_config.envoy.filters.http.fault: expected type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault, got \"\""
    );
    let mut v = vhost("v", &["*"], vec![]);
    v.typed_per_filter_config
        .insert("envoy.filters.http.cors".into(), Any::default());
    assert_eq!(
        refused(config(vec![v])),
        "virtual_hosts[0].typed_per_filter_config.envoy.filters.http.cors: expected type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy, got \"\""
    );
    let mut v = vhost("v", &["*"], vec![]);
    v.typed_per_filter_config
        .insert("envoy.filters.http.fault".into(), Any::default());
    assert_eq!(
        refused(config(vec![v])),
        "virtual_hosts[0].typed_per_filter_config.envoy.filters.http.fault: not supported by mesh-proxy"
    );
}

#[test]
fn unsupported_match_fields() {
    let mut m = prefix("/");
    m.runtime_fraction = Some(Default::default());
    assert_eq!(
        refused_routes(vec![route(m, forward("c"))]),
        "virtual_hosts[0].routes[0].match.runtime_fraction: not supported by mesh-proxy"
    );
    let mut m = prefix("/");
    m.headers = vec![header(
        "x",
        Some(HeaderMatchSpecifier::StringMatch(StringMatcher {
            ignore_case: false,
            match_pattern: Some(MatchPattern::Custom(Default::default())),
        })),
        false,
    )];
    assert_eq!(
        refused_routes(vec![route(m, forward("c"))]),
        "virtual_hosts[0].routes[0].match.headers[0].string_match.custom: not supported by \
         mesh-proxy"
    );
}

#[test]
fn malformed_matches() {
    let no_path = RouteMatch::default();
    assert_eq!(
        refused_routes(vec![route(no_path, forward("c"))]),
        "virtual_hosts[0].routes[0].match: one of prefix, path, safe_regex, \
         path_separated_prefix or connect_matcher is required"
    );
    let trailing = path_match(PathSpecifier::PathSeparatedPrefix("/api/".into()));
    assert_eq!(
        refused_routes(vec![route(trailing, forward("c"))]),
        "virtual_hosts[0].routes[0].match.path_separated_prefix: \"/api/\" must not end with '/'"
    );
    let mut bad_name = prefix("/");
    bad_name.headers = vec![header("bad header", None, false)];
    assert_eq!(
        refused_routes(vec![route(bad_name, forward("c"))]),
        "virtual_hosts[0].routes[0].match.headers[0].name: \"bad header\" is not a valid header \
         name"
    );
    let mut empty_prefix = prefix("/");
    empty_prefix.headers = vec![header(
        "x",
        Some(HeaderMatchSpecifier::StringMatch(string(
            MatchPattern::Prefix(String::new()),
            false,
        ))),
        false,
    )];
    assert_eq!(
        refused_routes(vec![route(empty_prefix, forward("c"))]),
        "virtual_hosts[0].routes[0].match.headers[0].string_match.prefix: must not be empty"
    );
    let missing = PbRoute {
        action: Some(PbAction::Route(forward("c"))),
        ..Default::default()
    };
    assert_eq!(
        refused_routes(vec![missing]),
        "virtual_hosts[0].routes[0].match: is required"
    );
}

#[test]
fn missing_or_unsupported_actions() {
    let no_action = PbRoute {
        r#match: Some(prefix("/")),
        ..Default::default()
    };
    assert_eq!(
        refused_routes(vec![no_action]),
        "virtual_hosts[0].routes[0]: one of route, redirect or direct_response is required"
    );
    let non_forwarding = PbRoute {
        r#match: Some(prefix("/")),
        action: Some(PbAction::NonForwardingAction(Default::default())),
        ..Default::default()
    };
    assert_eq!(
        refused_routes(vec![non_forwarding]),
        "virtual_hosts[0].routes[0].non_forwarding_action: not supported by mesh-proxy"
    );
}

#[test]
fn duplicate_domains_across_virtual_hosts() {
    let c = config(vec![
        vhost("a", &["reviews", "reviews:9080"], vec![]),
        vhost("b", &["ratings", "Reviews:9080"], vec![]),
    ]);
    assert_eq!(
        refused(c),
        "virtual_hosts[1].domains[1]: domain \"reviews:9080\" is already used by another \
         virtual host or entry"
    );
}

#[test]
fn rewrites_that_cannot_apply() {
    let mut action = forward("c");
    action.prefix_rewrite = "/x".into();
    assert_eq!(
        refused_routes(vec![route(
            path_match(PathSpecifier::SafeRegex(regex("/.*"))),
            action
        )]),
        "virtual_hosts[0].routes[0].route.prefix_rewrite: needs a route matched by prefix, path \
         or path_separated_prefix"
    );
    let mut both = forward("c");
    both.prefix_rewrite = "/x".into();
    both.regex_rewrite = Some(RegexMatchAndSubstitute {
        pattern: Some(regex("a")),
        substitution: "b".into(),
    });
    assert_eq!(
        refused_action(both),
        "virtual_hosts[0].routes[0].route.regex_rewrite: cannot be set together with \
         prefix_rewrite"
    );
    let mut header_host = forward("c");
    header_host.host_rewrite_specifier = Some(HostRewriteSpecifier::HostRewriteHeader("x".into()));
    assert_eq!(
        refused_action(header_host),
        "virtual_hosts[0].routes[0].route.host_rewrite_header: not supported by mesh-proxy"
    );
}

#[test]
#[allow(deprecated)]
fn weighted_clusters_must_add_up() {
    let split = |total: Option<u32>, weights: &[u32]| RouteAction {
        cluster_specifier: Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: weights
                .iter()
                .enumerate()
                .map(|(i, w)| ClusterWeight {
                    name: format!("c{i}"),
                    weight: Some(UInt32Value { value: *w }),
                    ..Default::default()
                })
                .collect(),
            total_weight: total.map(|value| UInt32Value { value }),
            ..Default::default()
        })),
        ..Default::default()
    };
    assert_eq!(
        refused_action(split(Some(100), &[50, 40])),
        "virtual_hosts[0].routes[0].route.weighted_clusters.total_weight: is 100 but the \
         cluster weights add up to 90"
    );
    assert_eq!(
        refused_action(split(None, &[0, 0])),
        "virtual_hosts[0].routes[0].route.weighted_clusters.clusters: the weights must add up \
         to more than zero"
    );
    let mut with_header = split(None, &[1]);
    if let Some(ClusterSpecifier::WeightedClusters(w)) = &mut with_header.cluster_specifier {
        w.clusters[0].cluster_header = "x-cluster".into();
    }
    assert_eq!(
        refused_action(with_header),
        "virtual_hosts[0].routes[0].route.weighted_clusters.clusters[0].cluster_header: not \
         supported by mesh-proxy"
    );
}

#[test]
fn header_values_with_formatters() {
    let mut r = route(prefix("/"), forward("c"));
    r.response_headers_to_add = vec![header_value("x-peer", "%DOWNSTREAM_REMOTE_ADDRESS%")];
    assert_eq!(
        refused_routes(vec![r]),
        "virtual_hosts[0].routes[0].response_headers_to_add[0].header.value: header value \
         formatters (%...%) are not supported by mesh-proxy"
    );
    let mut c = config(vec![]);
    c.request_headers_to_remove = vec![":path".into()];
    assert_eq!(
        refused(c),
        "request_headers_to_remove[0]: pseudo-header \":path\" cannot be edited"
    );
}

#[test]
fn retry_host_predicates_other_than_previous_hosts() {
    let mut action = forward("c");
    action.retry_policy = Some(RetryPolicy {
        retry_host_predicate: vec![RetryHostPredicate {
            name: "envoy.retry_host_predicates.omit_canary_hosts".into(),
            config_type: None,
        }],
        ..Default::default()
    });
    assert_eq!(
        refused_action(action),
        "virtual_hosts[0].routes[0].route.retry_policy.retry_host_predicate[0].name: host \
         predicate \"envoy.retry_host_predicates.omit_canary_hosts\" is not supported by \
         mesh-proxy"
    );
}

#[test]
fn direct_responses_within_limits() {
    let direct = |status, body: &str| PbRoute {
        r#match: Some(prefix("/")),
        action: Some(PbAction::DirectResponse(DirectResponseAction {
            status,
            body: Some(DataSource {
                specifier: Some(Specifier::InlineString(body.to_owned())),
                ..Default::default()
            }),
            body_format: None,
        })),
        ..Default::default()
    };
    assert_eq!(
        refused_routes(vec![direct(200, &"x".repeat(4097))]),
        "virtual_hosts[0].routes[0].direct_response.body: is 4097 bytes, more than \
         max_direct_response_body_size_bytes (4096)"
    );
    assert_eq!(
        refused_routes(vec![direct(99, "")]),
        "virtual_hosts[0].routes[0].direct_response.status: 99 is not between 200 and 599"
    );
}

#[test]
fn unsupported_configuration_fields() {
    let mut c = config(vec![]);
    c.vhds = Some(Vhds::default());
    assert_eq!(refused(c), "vhds: not supported by mesh-proxy");
    let mut c = config(vec![]);
    c.vhost_header = "x-host".into();
    assert_eq!(refused(c), "vhost_header: not supported by mesh-proxy");
}

#[test]
#[allow(deprecated)]
fn empty_deprecated_header_patterns() {
    let mut m = prefix("/");
    m.headers = vec![header(
        "x",
        Some(HeaderMatchSpecifier::SuffixMatch(String::new())),
        false,
    )];
    assert_eq!(
        refused_routes(vec![route(m, forward("c"))]),
        "virtual_hosts[0].routes[0].match.headers[0].suffix_match: must not be empty"
    );
}
