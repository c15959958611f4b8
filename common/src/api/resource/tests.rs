use serde_json::json;

use super::*;

fn vs(spec: serde_json::Value) -> serde_json::Value {
    json!({
        "apiVersion": "networking.istio.io/v1beta1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": spec,
    })
}

#[test]
fn reads_every_served_version_as_one_type() {
    for version in ["v1", "v1beta1", "v1alpha3"] {
        let mut doc = vs(json!({"hosts": ["reviews"]}));
        doc["apiVersion"] = json!(format!("networking.istio.io/{version}"));
        let decoded = decode(&doc).unwrap();
        assert_eq!(decoded.resource.kind(), Kind::VirtualService);
        assert_eq!(
            decoded.resource.key().to_string(),
            "VirtualService default/reviews"
        );
    }
}

#[test]
fn keeps_unknown_fields_with_their_paths_and_values() {
    let doc = vs(json!({
        "hosts": ["reviews"],
        "http": [{"route": [{"destination": {"host": "reviews", "subsett": "v1"}}]}],
        "tcpRoutes": [],
    }));
    let decoded = decode(&doc).unwrap();
    let unknown: Vec<_> = decoded
        .unknown_fields
        .iter()
        .map(|f| (f.path.to_string(), f.value.clone()))
        .collect();
    assert_eq!(
        unknown,
        vec![
            (
                "spec.http[0].route[0].destination.subsett".to_string(),
                json!("v1")
            ),
            ("spec.tcpRoutes".to_string(), json!([])),
        ]
    );
}

#[test]
fn type_errors_name_the_field() {
    let doc = vs(json!({"http": [{"route": [{"destination": {"host": "r"}, "weight": "ten"}]}]}));
    let error = decode(&doc).unwrap_err();
    assert_eq!(
        error.to_string(),
        "VirtualService spec.http[0].route[0].weight: invalid type: string \"ten\", expected i32"
    );
    let doc = vs(json!({"http": [{"match": [{"uri": {"exact": 5}}]}]}));
    let error = decode(&doc).unwrap_err().to_string();
    assert_eq!(
        error,
        "VirtualService spec.http[0].match[0].uri.exact: invalid type: integer `5`, expected a string"
    );
    let doc = vs(json!({"http": [{"match": [{"uri": {"exakt": "/"}}]}]}));
    let decoded = decode(&doc).unwrap();
    assert_eq!(
        decoded.unknown_fields[0].path.to_string(),
        "spec.http[0].match[0].uri.exakt"
    );
}

#[test]
fn unknown_kinds_and_versions_are_named() {
    let doc = json!({"apiVersion": "networking.istio.io/v1", "kind": "EnvoyFilter", "metadata": {"name": "x"}});
    assert!(
        decode(&doc)
            .unwrap_err()
            .to_string()
            .starts_with("unknown kind \"EnvoyFilter\" of apiVersion \"networking.istio.io/v1\"; mesh.rs reads VirtualService, ")
    );
    let doc = json!({"apiVersion": "security.istio.io/v1alpha1", "kind": "PeerAuthentication", "metadata": {"name": "x"}});
    assert_eq!(
        decode(&doc).unwrap_err().to_string(),
        "PeerAuthentication is not served as \"security.istio.io/v1alpha1\"; use security.istio.io/v1 or security.istio.io/v1beta1"
    );
    let doc = json!({"kind": "Gateway"});
    assert_eq!(
        decode(&doc).unwrap_err().to_string(),
        "apiVersion is missing or not a string"
    );
    let doc = json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "g"}});
    assert_eq!(
        decode(&doc).unwrap_err().to_string(),
        "Gateway: missing field `spec`"
    );
    let doc = json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {}, "spec": {}});
    assert_eq!(
        decode(&doc).unwrap_err().to_string(),
        "Gateway has no metadata.name"
    );
}

#[test]
fn writes_back_with_type_meta_and_status() {
    let doc = vs(json!({"hosts": ["reviews"]}));
    let mut doc = doc;
    doc["status"] = json!({"observedGeneration": 3, "conditions": [{"type": "Reconciled"}]});
    let decoded = decode(&doc).unwrap();
    assert!(decoded.unknown_fields.is_empty());
    let written = decoded.resource.to_json();
    assert_eq!(written["apiVersion"], json!("networking.istio.io/v1"));
    assert_eq!(written["kind"], json!("VirtualService"));
    assert_eq!(written["status"], doc["status"]);
    assert_eq!(written["spec"], doc["spec"]);
}
