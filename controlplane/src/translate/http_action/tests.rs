use envoy_types::pb::envoy::config::route::v3::{
    Route, route::Action, route_action::ClusterSpecifier, weighted_cluster::ClusterWeight,
};
use mesh_common::api::HttpRoute;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::{
    mesh_config::MeshConfig,
    model::{Objects, Snapshot},
    translate::{gateway::Scope, http_route},
};

fn header(key: &str, value: &str, action: HeaderAppendAction) -> HeaderValueOption {
    HeaderValueOption {
        header: Some(HeaderValue {
            key: key.to_string(),
            value: value.to_string(),
            ..HeaderValue::default()
        }),
        append_action: action as i32,
        ..HeaderValueOption::default()
    }
}

const SET: HeaderAppendAction = HeaderAppendAction::OverwriteIfExistsOrAdd;
const ADD: HeaderAppendAction = HeaderAppendAction::AppendIfExistsOrAdd;

fn headers(value: serde_json::Value) -> Headers {
    serde_json::from_value(value).unwrap()
}

#[test]
fn set_overwrites_add_appends_and_envoy_headers_are_left_out() {
    let edits = HeaderEdits::new(Some(&headers(json!({
        "request": {
            "set": {"x-b": "1", "x-a": "2", ":path": "/no", "Host": "set.example"},
            "add": {"x-c": "3", ":authority": "add.example"},
            "remove": ["x-d", ":method", "host"],
        },
        "response": {"set": {"x-e": "4"}, "add": {"x-f": "5"}, "remove": ["x-g"]},
    }))));
    assert_eq!(
        edits,
        HeaderEdits {
            request_to_add: vec![
                header("x-a", "2", SET),
                header("x-b", "1", SET),
                header("x-c", "3", ADD),
            ],
            request_to_remove: vec!["x-d".to_string()],
            response_to_add: vec![header("x-e", "4", SET), header("x-f", "5", ADD)],
            response_to_remove: vec!["x-g".to_string()],
            authority: Some("set.example".to_string()),
        }
    );
}

#[test]
fn an_added_authority_counts_when_none_is_set() {
    let edits = HeaderEdits::new(Some(&headers(json!({
        "request": {"add": {":authority": "add.example"}},
    }))));
    assert_eq!(edits.authority.as_deref(), Some("add.example"));
    assert_eq!(edits.request_to_add, vec![]);
    assert_eq!(HeaderEdits::new(None), HeaderEdits::default());
}

fn redirect_of(value: serde_json::Value) -> HttpRedirect {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_redirect_carries_every_field() {
    let action = redirect(
        &redirect_of(json!({
            "uri": "/v2", "authority": "new.example", "port": 8443, "scheme": "https",
            "redirectCode": 308,
        })),
        9080,
    );
    assert_eq!(
        action,
        Some(RedirectAction {
            host_redirect: "new.example".to_string(),
            port_redirect: 8443,
            response_code: RedirectResponseCode::PermanentRedirect as i32,
            path_rewrite_specifier: Some(PathRewriteSpecifier::PathRedirect("/v2".to_string())),
            scheme_rewrite_specifier: Some(SchemeRewriteSpecifier::SchemeRedirect(
                "https".to_string()
            )),
            ..RedirectAction::default()
        })
    );
}

#[test]
fn a_bare_redirect_is_a_301_that_keeps_path_port_and_scheme() {
    assert_eq!(
        redirect(&redirect_of(json!({"authority": "new.example"})), 9080),
        Some(RedirectAction {
            host_redirect: "new.example".to_string(),
            response_code: RedirectResponseCode::MovedPermanently as i32,
            ..RedirectAction::default()
        })
    );
}

#[test]
fn redirect_ports() {
    let port = |value: serde_json::Value, request_port: u16| {
        redirect(&redirect_of(value), request_port).map(|r| r.port_redirect)
    };
    assert_eq!(
        port(json!({"derivePort": "FROM_REQUEST_PORT"}), 9080),
        Some(9080)
    );
    assert_eq!(
        port(json!({"derivePort": "FROM_REQUEST_PORT"}), 80),
        Some(0)
    );
    assert_eq!(
        port(json!({"derivePort": "FROM_PROTOCOL_DEFAULT"}), 9080),
        Some(0)
    );
    assert_eq!(port(json!({"port": 443, "scheme": "https"}), 80), Some(0));
    assert_eq!(port(json!({"port": 443}), 80), Some(443));
    assert_eq!(port(json!({"port": 80, "scheme": "https"}), 80), Some(80));
}

#[test]
fn redirect_codes() {
    let code =
        |c: u32| redirect(&redirect_of(json!({"redirectCode": c})), 80).map(|r| r.response_code);
    assert_eq!(code(302), Some(RedirectResponseCode::Found as i32));
    assert_eq!(code(303), Some(RedirectResponseCode::SeeOther as i32));
    assert_eq!(
        code(307),
        Some(RedirectResponseCode::TemporaryRedirect as i32)
    );
    assert_eq!(code(304), None);
}

#[test]
fn direct_response_bodies() {
    let response = |value: serde_json::Value| {
        direct_response(&serde_json::from_value(value).unwrap())
            .map(|d| (d.status, d.body.and_then(|b| b.specifier)))
    };
    assert_eq!(response(json!({"status": 204})), Some((204, None)));
    assert_eq!(
        response(json!({"status": 503, "body": {"string": "down"}})),
        Some((503, Some(Specifier::InlineString("down".to_string()))))
    );
    assert_eq!(
        response(json!({"status": 200, "body": {"bytes": "aGVsbG8="}})),
        Some((200, Some(Specifier::InlineBytes(b"hello".to_vec()))))
    );
    assert_eq!(
        response(json!({"status": 200, "body": {"bytes": "not base64!"}})),
        None
    );
}

#[test]
fn base64_as_protobuf_json_writes_it() {
    assert_eq!(base64_decode(""), Some(vec![]));
    assert_eq!(base64_decode("YQ=="), Some(b"a".to_vec()));
    assert_eq!(base64_decode("YWI="), Some(b"ab".to_vec()));
    assert_eq!(base64_decode("YWJj"), Some(b"abc".to_vec()));
    assert_eq!(base64_decode("YWJjZA"), Some(b"abcd".to_vec()));
    assert_eq!(base64_decode("-_8="), Some(vec![0xfb, 0xff]));
    assert_eq!(base64_decode("YWJjZ"), None);
    assert_eq!(base64_decode("YQ==="), None);
}

#[test]
fn rewrites() {
    let rewritten = |value: serde_json::Value| {
        let mut action = RouteAction::default();
        rewrite(&mut action, &serde_json::from_value(value).unwrap());
        (
            action.prefix_rewrite,
            action.regex_rewrite,
            action.host_rewrite_specifier,
        )
    };
    assert_eq!(
        rewritten(json!({"uri": "/v1/", "authority": "ratings.internal"})),
        (
            "/v1/".to_string(),
            None,
            Some(HostRewriteSpecifier::HostRewriteLiteral(
                "ratings.internal".to_string()
            ))
        )
    );
    assert_eq!(
        rewritten(json!({"uriRegexRewrite": {"match": "^/old/(.*)$", "rewrite": "/new/\\1"}})),
        (
            String::new(),
            Some(RegexMatchAndSubstitute {
                pattern: Some(RegexMatcher {
                    regex: "^/old/(.*)$".to_string(),
                    ..RegexMatcher::default()
                }),
                substitution: "/new/\\1".to_string(),
            }),
            None
        )
    );
}

fn translate(value: serde_json::Value) -> Vec<Route> {
    let route: HttpRoute = serde_json::from_value(value).unwrap();
    let snapshot = Snapshot::build(&Objects::default(), &MeshConfig::default());
    http_route::routes(
        &snapshot,
        "default",
        9080,
        &route,
        http_route::Caller::unlabelled(Scope::Mesh, "default"),
    )
}

#[test]
fn a_lone_destination_s_headers_join_the_route_s() {
    let routes = translate(json!({
        "headers": {"request": {"add": {"x-route": "r"}}, "response": {"remove": ["x-r"]}},
        "route": [{
            "destination": {"host": "reviews", "port": {"number": 9080}},
            "headers": {"request": {"set": {"x-dest": "d", "host": "dest.example"}}},
        }],
    }));
    let [route] = routes.as_slice() else {
        panic!("{routes:?}")
    };
    assert_eq!(
        route.request_headers_to_add,
        vec![header("x-route", "r", ADD), header("x-dest", "d", SET)]
    );
    assert_eq!(route.response_headers_to_remove, vec!["x-r".to_string()]);
    let Some(Action::Route(action)) = &route.action else {
        panic!("{route:?}")
    };
    assert_eq!(
        action.host_rewrite_specifier,
        Some(HostRewriteSpecifier::HostRewriteLiteral(
            "dest.example".to_string()
        ))
    );
}

#[test]
fn the_rewrite_s_authority_wins_over_a_header_s() {
    let routes = translate(json!({
        "headers": {"request": {"set": {":authority": "header.example"}}},
        "rewrite": {"authority": "rewrite.example"},
        "route": [{"destination": {"host": "reviews", "port": {"number": 9080}}}],
    }));
    let Some(Action::Route(action)) = &routes[0].action else {
        panic!("{routes:?}")
    };
    assert_eq!(
        action.host_rewrite_specifier,
        Some(HostRewriteSpecifier::HostRewriteLiteral(
            "rewrite.example".to_string()
        ))
    );
}

#[test]
fn weighted_destinations_keep_their_own_headers() {
    let routes = translate(json!({
        "route": [
            {"destination": {"host": "reviews", "subset": "v1", "port": {"number": 9080}},
             "weight": 90},
            {"destination": {"host": "reviews", "subset": "v2", "port": {"number": 9080}},
             "weight": 10,
             "headers": {"request": {"set": {"x-canary": "1", ":authority": "canary"}},
                         "response": {"add": {"x-served-by": "v2"}}}},
        ],
    }));
    let Some(Action::Route(action)) = &routes[0].action else {
        panic!("{routes:?}")
    };
    let Some(ClusterSpecifier::WeightedClusters(weighted)) = &action.cluster_specifier else {
        panic!("{action:?}")
    };
    assert_eq!(
        weighted.clusters,
        vec![
            ClusterWeight {
                name: "outbound|9080|v1|reviews.default.svc.cluster.local".to_string(),
                weight: Some(envoy_types::pb::google::protobuf::UInt32Value { value: 90 }),
                ..ClusterWeight::default()
            },
            ClusterWeight {
                name: "outbound|9080|v2|reviews.default.svc.cluster.local".to_string(),
                weight: Some(envoy_types::pb::google::protobuf::UInt32Value { value: 10 }),
                request_headers_to_add: vec![header("x-canary", "1", SET)],
                response_headers_to_add: vec![header("x-served-by", "v2", ADD)],
                host_rewrite_specifier: Some(
                    envoy_types::pb::envoy::config::route::v3::weighted_cluster::cluster_weight::HostRewriteSpecifier::HostRewriteLiteral(
                        "canary".to_string()
                    )
                ),
                ..ClusterWeight::default()
            },
        ]
    );
    assert_eq!(routes[0].request_headers_to_add, vec![]);
    assert_eq!(action.host_rewrite_specifier, None);
}

#[test]
fn a_redirect_wins_and_keeps_the_route_s_headers() {
    let routes = translate(json!({
        "match": [{"uri": {"exact": "/old"}}],
        "redirect": {"uri": "/new"},
        "directResponse": {"status": 404},
        "headers": {"response": {"set": {"x-moved": "yes"}}},
    }));
    let [route] = routes.as_slice() else {
        panic!("{routes:?}")
    };
    assert_eq!(
        route.action,
        Some(Action::Redirect(RedirectAction {
            response_code: RedirectResponseCode::MovedPermanently as i32,
            path_rewrite_specifier: Some(PathRewriteSpecifier::PathRedirect("/new".to_string())),
            ..RedirectAction::default()
        }))
    );
    assert_eq!(
        route.response_headers_to_add,
        vec![header("x-moved", "yes", SET)]
    );
}

#[test]
fn a_redirect_envoy_cannot_send_gives_no_route() {
    assert_eq!(
        translate(json!({"redirect": {"redirectCode": 304}})),
        vec![]
    );
    assert_eq!(
        translate(json!({"directResponse": {"status": 200, "body": {"bytes": "%%"}}})),
        vec![]
    );
}

mod mirror_cors;
