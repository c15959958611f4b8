//! Lookups through whole compiled tables. Header, query and gRPC matching are in `headers`,
//! refusals in `nack`.

mod headers;
mod mirror;
mod nack;
mod require_tls;

use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{HeaderValue, HeaderValueOption},
            route::v3::{
                DirectResponseAction, HeaderMatcher, QueryParameterMatcher, RedirectAction,
                Route as PbRoute, RouteAction, RouteMatch, VirtualHost as PbVirtualHost,
                WeightedCluster, header_matcher::HeaderMatchSpecifier,
                query_parameter_matcher::QueryParameterMatchSpecifier, redirect_action,
                route::Action as PbAction, route_action::ClusterSpecifier,
                route_match::PathSpecifier, weighted_cluster::ClusterWeight,
            },
        },
        r#type::{
            matcher::v3::{
                RegexMatchAndSubstitute, RegexMatcher, StringMatcher, string_matcher::MatchPattern,
            },
            v3::Int64Range,
        },
    },
    google::protobuf::{BoolValue, Duration as PbDuration, UInt32Value},
};
use http::{HeaderMap, Method};
use rand::{Rng, SeedableRng, rngs::SmallRng};

use super::*;

// --- builders ---

fn path_match(spec: PathSpecifier) -> RouteMatch {
    RouteMatch {
        path_specifier: Some(spec),
        ..Default::default()
    }
}

fn prefix(p: &str) -> RouteMatch {
    path_match(PathSpecifier::Prefix(p.to_owned()))
}

fn forward(cluster: &str) -> RouteAction {
    RouteAction {
        cluster_specifier: Some(ClusterSpecifier::Cluster(cluster.to_owned())),
        ..Default::default()
    }
}

fn route(m: RouteMatch, action: RouteAction) -> PbRoute {
    PbRoute {
        r#match: Some(m),
        action: Some(PbAction::Route(action)),
        ..Default::default()
    }
}

fn vhost(name: &str, domains: &[&str], routes: Vec<PbRoute>) -> PbVirtualHost {
    PbVirtualHost {
        name: name.to_owned(),
        domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        routes,
        ..Default::default()
    }
}

fn config(vhosts: Vec<PbVirtualHost>) -> RouteConfiguration {
    RouteConfiguration {
        name: "outbound|9080||reviews".to_owned(),
        virtual_hosts: vhosts,
        ..Default::default()
    }
}

fn regex(r: &str) -> RegexMatcher {
    RegexMatcher {
        regex: r.to_owned(),
        engine_type: None,
    }
}

fn string(pattern: MatchPattern, ignore_case: bool) -> StringMatcher {
    StringMatcher {
        ignore_case,
        match_pattern: Some(pattern),
    }
}

fn header(name: &str, spec: Option<HeaderMatchSpecifier>, invert: bool) -> HeaderMatcher {
    HeaderMatcher {
        name: name.to_owned(),
        invert_match: invert,
        header_match_specifier: spec,
        ..Default::default()
    }
}

fn header_value(key: &str, value: &str) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_owned(),
            value: value.to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A table of one catch-all host whose single route has `m`.
fn table_matching(m: RouteMatch) -> RouteTable {
    RouteTable::compile(&config(vec![vhost(
        "all",
        &["*"],
        vec![route(m, forward("hit"))],
    )]))
    .expect("compiles")
}

fn hits(table: &RouteTable, method: &Method, path: &str, headers: &[(&str, &str)]) -> bool {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    table
        .find(&RequestMeta::new(method, "host", path, &map), 0)
        .is_some()
}

fn get(table: &RouteTable, path: &str, headers: &[(&str, &str)]) -> bool {
    hits(table, &Method::GET, path, headers)
}

fn cluster_of<'t>(decision: &Decision<'t>) -> &'t str {
    match decision.outcome {
        Outcome::Forward { cluster, .. } => &cluster.name,
        other => panic!("not forwarded: {other:?}"),
    }
}

// --- path matching ---

#[test]
fn prefix_matches_the_start_of_path_and_query() {
    let table = table_matching(prefix("/api"));
    assert!(get(&table, "/api", &[]));
    assert!(get(&table, "/api/v1?x=1", &[]));
    assert!(get(&table, "/apiary", &[]));
    assert!(!get(&table, "/API", &[]));
    assert!(!get(&table, "/ap", &[]));
}

#[test]
fn path_matches_exactly_without_the_query() {
    let table = table_matching(path_match(PathSpecifier::Path("/login".to_owned())));
    assert!(get(&table, "/login", &[]));
    assert!(get(&table, "/login?next=/", &[]));
    assert!(!get(&table, "/login/", &[]));
    assert!(!get(&table, "/Login", &[]));
}

#[test]
fn case_insensitive_path_matching() {
    let mut m = path_match(PathSpecifier::Path("/Login".to_owned()));
    m.case_sensitive = Some(BoolValue { value: false });
    let table = table_matching(m);
    assert!(get(&table, "/LOGIN", &[]));
    assert!(get(&table, "/login", &[]));
    let mut m = prefix("/API/");
    m.case_sensitive = Some(BoolValue { value: false });
    assert!(get(&table_matching(m), "/api/v1", &[]));
}

#[test]
fn path_separated_prefix_stops_at_segment_boundaries() {
    let table = table_matching(path_match(PathSpecifier::PathSeparatedPrefix(
        "/api".to_owned(),
    )));
    assert!(get(&table, "/api", &[]));
    assert!(get(&table, "/api/v1", &[]));
    assert!(get(&table, "/api?x", &[]));
    assert!(!get(&table, "/apiary", &[]));
}

#[test]
fn safe_regex_matches_the_whole_path_without_query() {
    let table = table_matching(path_match(PathSpecifier::SafeRegex(regex("/users/[0-9]+"))));
    assert!(get(&table, "/users/42", &[]));
    assert!(get(&table, "/users/42?full=1", &[]));
    assert!(!get(&table, "/users/42/posts", &[]));
    assert!(!get(&table, "/v1/users/42", &[]));
}

#[test]
fn connect_matcher_matches_connect_requests() {
    let table = table_matching(path_match(
        PathSpecifier::ConnectMatcher(Default::default()),
    ));
    assert!(hits(&table, &Method::CONNECT, "", &[]));
    assert!(!hits(&table, &Method::GET, "/", &[]));
}

// --- whole-table lookups ---

#[test]
fn first_matching_route_wins() {
    let table = RouteTable::compile(&config(vec![vhost(
        "reviews",
        &["reviews"],
        vec![
            route(prefix("/reviews/1"), forward("v1")),
            route(prefix("/reviews"), forward("v2")),
            route(prefix("/reviews/1/x"), forward("never")),
        ],
    )]))
    .expect("compiles");
    let headers = HeaderMap::new();
    let decide = |path| {
        let req = RequestMeta::new(&Method::GET, "reviews", path, &headers);
        table.find(&req, 0).map(|d| cluster_of(&d).to_owned())
    };
    assert_eq!(decide("/reviews/1/x").as_deref(), Some("v1"));
    assert_eq!(decide("/reviews/2").as_deref(), Some("v2"));
    assert_eq!(decide("/ratings"), None);
}

#[test]
fn lookups_pick_the_virtual_host_by_domain() {
    let table = RouteTable::compile(&config(vec![
        vhost(
            "catch-all",
            &["*"],
            vec![route(prefix("/"), forward("default"))],
        ),
        vhost(
            "reviews",
            &["reviews", "reviews:9080"],
            vec![route(prefix("/"), forward("reviews"))],
        ),
    ]))
    .expect("compiles");
    let headers = HeaderMap::new();
    for (authority, vhost, cluster) in [
        ("reviews:9080", "reviews", "reviews"),
        ("reviews", "reviews", "reviews"),
        ("ratings", "catch-all", "default"),
    ] {
        let req = RequestMeta::new(&Method::GET, authority, "/", &headers);
        let decision = table.find(&req, 0).expect("routed");
        assert_eq!(decision.vhost.name, vhost);
        assert_eq!(cluster_of(&decision), cluster);
    }
}

#[test]
fn weighted_split_follows_the_weights() {
    let weighted = |name: &str, weight| ClusterWeight {
        name: name.to_owned(),
        weight: Some(UInt32Value { value: weight }),
        ..Default::default()
    };
    let action = RouteAction {
        cluster_specifier: Some(ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: vec![
                weighted("v1", 10),
                weighted("v2", 30),
                weighted("v3", 60),
                weighted("off", 0),
            ],
            ..Default::default()
        })),
        ..Default::default()
    };
    let table = RouteTable::compile(&config(vec![vhost(
        "r",
        &["*"],
        vec![route(prefix("/"), action)],
    )]))
    .expect("compiles");
    let headers = HeaderMap::new();
    let req = RequestMeta::new(&Method::GET, "r", "/", &headers);
    let mut rng = SmallRng::seed_from_u64(7);
    let mut counts = std::collections::BTreeMap::<String, u32>::new();
    for _ in 0..10_000 {
        let decision = table.find(&req, rng.random()).expect("routed");
        *counts.entry(cluster_of(&decision).to_owned()).or_default() += 1;
    }
    assert_eq!(counts.get("off"), None);
    for (cluster, expected) in [("v1", 1_000), ("v2", 3_000), ("v3", 6_000)] {
        let got = counts[cluster];
        assert!(
            got.abs_diff(expected) < 250,
            "{cluster}: {got} vs {expected}"
        );
    }
    // The pick is a pure function of the random number: points below 10 go to v1, and so on.
    assert_eq!(cluster_of(&table.find(&req, 9).expect("routed")), "v1");
    assert_eq!(cluster_of(&table.find(&req, 10).expect("routed")), "v2");
    assert_eq!(cluster_of(&table.find(&req, 99).expect("routed")), "v3");
    assert_eq!(cluster_of(&table.find(&req, 100).expect("routed")), "v1");
}

#[test]
fn route_policy_is_carried() {
    let mut action = forward("reviews");
    action.timeout = Some(PbDuration {
        seconds: 2,
        nanos: 500_000_000,
    });
    action.prefix_rewrite = "/v2/".into();
    let mut zero_timeout = forward("slow");
    zero_timeout.timeout = Some(PbDuration {
        seconds: 0,
        nanos: 0,
    });
    let table = RouteTable::compile(&config(vec![vhost(
        "r",
        &["*"],
        vec![
            route(prefix("/api/"), action),
            route(prefix("/slow"), zero_timeout),
            route(prefix("/"), forward("default")),
        ],
    )]))
    .expect("compiles");
    let headers = HeaderMap::new();
    let policy_of = |path| {
        let req = RequestMeta::new(&Method::GET, "r", path, &headers);
        let decision = table.find(&req, 0).expect("routed");
        let Outcome::Forward { policy, .. } = decision.outcome else {
            panic!("forwarded")
        };
        (policy.timeout, decision.rewritten_path(&req))
    };
    assert_eq!(
        policy_of("/api/users?id=1"),
        (
            Some(std::time::Duration::from_millis(2_500)),
            Some("/v2/users?id=1".to_owned())
        )
    );
    assert_eq!(policy_of("/slow"), (None, None));
    assert_eq!(
        policy_of("/"),
        (Some(std::time::Duration::from_secs(15)), None)
    );
}

#[test]
fn regex_rewrite_through_a_decision() {
    let mut action = forward("svc");
    action.regex_rewrite = Some(RegexMatchAndSubstitute {
        pattern: Some(regex("^/service/([^/]+)(/.*)$")),
        substitution: r"\2/instance/\1".into(),
    });
    let table = RouteTable::compile(&config(vec![vhost(
        "r",
        &["*"],
        vec![route(prefix("/service"), action)],
    )]))
    .expect("compiles");
    let headers = HeaderMap::new();
    let req = RequestMeta::new(&Method::GET, "r", "/service/foo/v1/api", &headers);
    let decision = table.find(&req, 0).expect("routed");
    assert_eq!(
        decision.rewritten_path(&req).as_deref(),
        Some("/v1/api/instance/foo")
    );
}

#[test]
fn redirects_and_direct_responses() {
    let redirect = PbRoute {
        r#match: Some(prefix("/old")),
        action: Some(PbAction::Redirect(RedirectAction {
            host_redirect: "new.example.com".into(),
            response_code: redirect_action::RedirectResponseCode::PermanentRedirect as i32,
            scheme_rewrite_specifier: Some(redirect_action::SchemeRewriteSpecifier::HttpsRedirect(
                true,
            )),
            path_rewrite_specifier: Some(redirect_action::PathRewriteSpecifier::PrefixRewrite(
                "/new".into(),
            )),
            ..Default::default()
        })),
        ..Default::default()
    };
    let direct = PbRoute {
        r#match: Some(prefix("/health")),
        action: Some(PbAction::DirectResponse(DirectResponseAction {
            status: 200,
            body: Some(envoy_types::pb::envoy::config::core::v3::DataSource {
                specifier: Some(
                    envoy_types::pb::envoy::config::core::v3::data_source::Specifier::InlineString(
                        "ok".into(),
                    ),
                ),
                ..Default::default()
            }),
            body_format: None,
        })),
        ..Default::default()
    };
    let table = RouteTable::compile(&config(vec![vhost("r", &["*"], vec![redirect, direct])]))
        .expect("compiles");
    let headers = HeaderMap::new();
    let req = RequestMeta::new(&Method::GET, "r", "/old/page?q", &headers);
    let decision = table.find(&req, 0).expect("routed");
    let Outcome::Redirect(r) = decision.outcome else {
        panic!("redirect")
    };
    assert_eq!(r.status, http::StatusCode::PERMANENT_REDIRECT);
    assert_eq!(r.scheme.as_deref(), Some("https"));
    assert_eq!(r.host.as_deref(), Some("new.example.com"));
    assert_eq!(
        decision.rewritten_path(&req).as_deref(),
        Some("/new/page?q")
    );
    let req = RequestMeta::new(&Method::GET, "r", "/health", &headers);
    let Outcome::Direct(d) = table.find(&req, 0).expect("routed").outcome else {
        panic!("direct")
    };
    assert_eq!((d.status, &d.body[..]), (http::StatusCode::OK, &b"ok"[..]));
}

#[test]
fn header_edits_apply_least_specific_last() {
    let mut r = route(prefix("/"), forward("c"));
    r.request_headers_to_add = vec![header_value("x-level", "route")];
    r.request_headers_to_remove = vec!["x-remove-me".into()];
    let mut v = vhost("v", &["*"], vec![r]);
    v.request_headers_to_add = vec![header_value("x-level", "vhost")];
    let mut c = config(vec![v]);
    c.request_headers_to_add = vec![HeaderValueOption {
        append_action: 2, // OVERWRITE_IF_EXISTS_OR_ADD
        ..header_value("x-level", "config")
    }];
    let table = RouteTable::compile(&c).expect("compiles");
    let mut headers = HeaderMap::new();
    headers.insert("x-remove-me", "1".parse().expect("value"));
    let decision = table
        .find(&RequestMeta::new(&Method::GET, "h", "/", &headers), 0)
        .expect("routed");
    for edits in decision.request_header_edits() {
        edits.apply(&mut headers);
    }
    assert_eq!(
        headers.get_all("x-level").iter().collect::<Vec<_>>(),
        ["config"]
    );
    assert!(!headers.contains_key("x-remove-me"));

    c.most_specific_header_mutations_wins = true;
    let table = RouteTable::compile(&c).expect("compiles");
    let mut headers = HeaderMap::new();
    let decision = table
        .find(&RequestMeta::new(&Method::GET, "h", "/", &headers), 0)
        .expect("routed");
    for edits in decision.request_header_edits() {
        edits.apply(&mut headers);
    }
    assert_eq!(
        headers.get_all("x-level").iter().collect::<Vec<_>>(),
        ["config", "vhost", "route"]
    );
}

#[test]
fn a_shared_table_routes_on_other_threads() {
    let table = std::sync::Arc::new(
        RouteTable::compile(&config(vec![vhost(
            "v",
            &["*"],
            vec![route(prefix("/"), forward("c"))],
        )]))
        .expect("compiles"),
    );
    let worker = {
        let table = table.clone();
        std::thread::spawn(move || {
            let headers = HeaderMap::new();
            let req = RequestMeta::new(&Method::GET, "h", "/", &headers);
            table.find(&req, 0).map(|d| cluster_of(&d).to_owned())
        })
    };
    assert_eq!(worker.join().expect("no panic").as_deref(), Some("c"));
}
