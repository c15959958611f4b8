use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

fn request(value: serde_json::Value) -> HttpMatchRequest {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_caller_is_admitted_as_istio_s_source_match() {
    let labels: BTreeMap<String, String> = [("app", "web"), ("version", "v1")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let sidecar = Caller {
        scope: Scope::Mesh,
        namespace: "shop",
        labels: &labels,
    };
    let admits = |m: serde_json::Value| sidecar.admits(&request(m), "default");
    assert!(admits(json!({})));
    assert!(admits(json!({"sourceLabels": {"app": "web"}})));
    assert!(!admits(
        json!({"sourceLabels": {"app": "web", "version": "v2"}})
    ));
    assert!(admits(json!({"sourceNamespace": "shop"})));
    assert!(!admits(json!({"sourceNamespace": "default"})));
    assert!(!admits(
        json!({"sourceLabels": {"app": "web"}, "sourceNamespace": "default"})
    ));
    // With gateways listed, Istio reads only them.
    assert!(admits(
        json!({"gateways": ["mesh"], "sourceLabels": {"app": "api"}})
    ));
    assert!(!admits(
        json!({"gateways": ["edge"], "sourceLabels": {"app": "web"}})
    ));
    let gateway = Caller {
        scope: Scope::Gateway("default/edge"),
        ..sidecar
    };
    assert!(gateway.admits(&request(json!({"gateways": ["edge"]})), "default"));
    assert!(gateway.admits(
        &request(json!({"sourceLabels": {"version": "v1"}})),
        "default"
    ));
}

#[test]
fn routes_are_named_after_the_rule_and_the_match() {
    let route: HttpRoute = serde_json::from_value(json!({
        "name": "reviews",
        "match": [
            {"name": "v2", "uri": {"prefix": "/v2"}},
            {"uri": {"prefix": "/v1"}},
            {"name": "other-port", "port": 9090, "uri": {"prefix": "/v3"}},
        ],
        "route": [{"destination": {"host": "reviews", "port": {"number": 9080}}}],
    }))
    .unwrap();
    let snapshot = Snapshot::build(
        &crate::model::Objects::default(),
        &crate::mesh_config::MeshConfig::default(),
    );
    let routes = routes(
        &snapshot,
        "default",
        9080,
        &route,
        Caller::unlabelled(Scope::Mesh, "default"),
    );
    let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["reviews.v2", "reviews"]);
    let unnamed = HttpRoute {
        name: String::new(),
        ..route
    };
    let routes = super::routes(
        &snapshot,
        "default",
        9090,
        &unnamed,
        Caller::unlabelled(Scope::Mesh, "default"),
    );
    let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, [".v2", "", ".other-port"]);
}
