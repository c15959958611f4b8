//! The committed CRD manifests serve every kind the way Istio does, describe exactly the fields of
//! our types, and are structural schemas that an API server accepts.

use std::{collections::BTreeSet, fs, path::PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use mesh_common::api::{
    AuthorizationPolicySpec, DestinationRuleSpec, GatewaySpec, Kind, PeerAuthenticationSpec,
    RequestAuthenticationSpec, ServiceEntrySpec, SidecarSpec, VirtualServiceSpec,
    WorkloadEntrySpec, crds,
};
use pretty_assertions::assert_eq;
use serde_json::Value;

/// Istio's plural names: `kubectl get virtualservices` must keep working.
fn istio_plural(kind: Kind) -> &'static str {
    match kind {
        Kind::VirtualService => "virtualservices",
        Kind::DestinationRule => "destinationrules",
        Kind::Gateway => "gateways",
        Kind::ServiceEntry => "serviceentries",
        Kind::WorkloadEntry => "workloadentries",
        Kind::Sidecar => "sidecars",
        Kind::AuthorizationPolicy => "authorizationpolicies",
        Kind::PeerAuthentication => "peerauthentications",
        Kind::RequestAuthentication => "requestauthentications",
        Kind::Telemetry => "telemetries",
    }
}

/// The top-level fields of the kind's spec type, from its own JSON schema.
fn spec_fields(kind: Kind) -> BTreeSet<String> {
    let schema = match kind {
        Kind::VirtualService => schemars::schema_for!(VirtualServiceSpec),
        Kind::DestinationRule => schemars::schema_for!(DestinationRuleSpec),
        Kind::Gateway => schemars::schema_for!(GatewaySpec),
        Kind::ServiceEntry => schemars::schema_for!(ServiceEntrySpec),
        Kind::WorkloadEntry => schemars::schema_for!(WorkloadEntrySpec),
        Kind::Sidecar => schemars::schema_for!(SidecarSpec),
        Kind::AuthorizationPolicy => schemars::schema_for!(AuthorizationPolicySpec),
        Kind::PeerAuthentication => schemars::schema_for!(PeerAuthenticationSpec),
        Kind::RequestAuthentication => schemars::schema_for!(RequestAuthenticationSpec),
        Kind::Telemetry => schemars::schema_for!(mesh_common::api::TelemetrySpec),
    };
    property_names(schema.as_value())
}

fn property_names(schema: &Value) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn committed(kind: Kind) -> CustomResourceDefinition {
    let file = format!("{}.{}.yaml", istio_plural(kind), kind.group());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/mesh/crds")
        .join(&file);
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}; run `cargo xtask gen`"));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn the_committed_manifests_are_up_to_date() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    if let Err(error) = xtask::generate::check(&root) {
        panic!("{error}");
    }
}

#[test]
fn each_manifest_reads_back_as_the_crd_of_its_kind() {
    let generated = crds();
    assert_eq!(generated.len(), Kind::ALL.len());
    for (&kind, expected) in Kind::ALL.iter().zip(&generated) {
        assert_eq!(&committed(kind), expected, "{kind}");
    }
}

#[test]
fn each_kind_is_served_as_istio_serves_it() {
    for &kind in Kind::ALL {
        let crd = committed(kind);
        let spec = &crd.spec;
        let plural = istio_plural(kind);
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(format!("{plural}.{}", kind.group()).as_str())
        );
        assert_eq!(spec.group, kind.group(), "{kind}");
        assert_eq!(spec.names.kind, kind.as_str(), "{kind}");
        assert_eq!(spec.names.plural, plural, "{kind}");
        assert_eq!(spec.scope, "Namespaced", "{kind}");

        let served: Vec<&str> = spec
            .versions
            .iter()
            .filter(|v| v.served)
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(served, kind.versions(), "{kind}: served versions");
        assert_eq!(spec.versions.len(), kind.versions().len(), "{kind}");
        let storage: Vec<&str> = spec
            .versions
            .iter()
            .filter(|v| v.storage)
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(storage, ["v1"], "{kind}: storage versions");
    }
}

#[test]
fn each_version_describes_the_fields_of_the_spec_type() {
    for &kind in Kind::ALL {
        let expected = spec_fields(kind);
        assert!(!expected.is_empty(), "{kind} has no spec fields");
        for version in committed(kind).spec.versions {
            let schema = version
                .schema
                .and_then(|s| s.open_api_v3_schema)
                .unwrap_or_else(|| panic!("{kind} {}: no openAPIV3Schema", version.name));
            let schema = serde_json::to_value(schema).unwrap();
            assert_eq!(
                property_names(&schema["properties"]["spec"]),
                expected,
                "{kind} {}: spec properties",
                version.name
            );
        }
    }
}

#[test]
fn every_schema_is_structural() {
    let mut violations = Vec::new();
    for &kind in Kind::ALL {
        for version in committed(kind).spec.versions {
            let Some(schema) = version.schema.and_then(|s| s.open_api_v3_schema) else {
                violations.push(format!("{kind} {}: no openAPIV3Schema", version.name));
                continue;
            };
            let prefix = format!("{kind} {}: ", version.name);
            let mut found = Vec::new();
            check_node(&serde_json::to_value(schema).unwrap(), "", &mut found);
            violations.extend(found.into_iter().map(|v| format!("{prefix}{v}")));
        }
    }
    assert_eq!(violations, Vec::<String>::new());
}

#[test]
fn the_structural_check_catches_what_an_api_server_rejects() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {
            "untyped": {"description": "no type"},
            "both": {
                "type": "object",
                "properties": {"a": {"type": "string"}},
                "additionalProperties": {"type": "string"},
            },
            "match": {
                "type": "object",
                "properties": {"exact": {"type": "string"}},
                "oneOf": [
                    {"required": ["exact"]},
                    {"required": ["regex"], "properties": {"regex": {}}},
                    {"type": "object"},
                ],
            },
            "anything": {"x-kubernetes-preserve-unknown-fields": true},
            "port": {
                "x-kubernetes-int-or-string": true,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
            "list": {"type": "array", "items": {"properties": {}}},
        },
    });
    let mut found = Vec::new();
    check_node(&schema, "", &mut found);
    found.sort();
    assert_eq!(
        found,
        [
            "both: has both properties and additionalProperties",
            "list[*]: has no type",
            "match: oneOf[1] names regex, which is not among the properties",
            "match: oneOf[2] sets type",
            "untyped: has no type",
        ]
    );
}

/// Collects the rules of a structural schema (Kubernetes' "Specifying a structural schema")
/// that `node`, at `path`, breaks.
fn check_node(node: &Value, path: &str, violations: &mut Vec<String>) {
    let flag = |name: &str| node.get(name) == Some(&Value::Bool(true));
    let int_or_string = flag("x-kubernetes-int-or-string");
    let at = if path.is_empty() { "<root>" } else { path };
    if node.get("type").is_none() && !int_or_string && !flag("x-kubernetes-preserve-unknown-fields")
    {
        violations.push(format!("{at}: has no type"));
    }
    if node.get("properties").is_some() && node.get("additionalProperties").is_some() {
        violations.push(format!(
            "{at}: has both properties and additionalProperties"
        ));
    }
    for junctor in ["allOf", "anyOf", "oneOf"] {
        for (i, branch) in node[junctor].as_array().into_iter().flatten().enumerate() {
            let name = format!("{junctor}[{i}]");
            check_junctor(branch, node, at, &name, int_or_string, violations);
        }
    }
    if let Some(branch) = node.get("not") {
        check_junctor(branch, node, at, "not", int_or_string, violations);
    }
    for (name, child) in node["properties"].as_object().into_iter().flatten() {
        let child_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        check_node(child, &child_path, violations);
    }
    if let Some(items) = node.get("items") {
        check_node(items, &format!("{path}[*]"), violations);
    }
    if let Some(values) = node.get("additionalProperties").filter(|v| v.is_object()) {
        check_node(values, &format!("{path}.*"), violations);
    }
}

/// Inside `allOf`/`anyOf`/`oneOf`/`not`, a schema may only restrict values: it sets none of the
/// keys that shape them, and names only fields that `outer` declares.
fn check_junctor(
    branch: &Value,
    outer: &Value,
    at: &str,
    name: &str,
    int_or_string: bool,
    violations: &mut Vec<String>,
) {
    for key in [
        "type",
        "description",
        "default",
        "additionalProperties",
        "nullable",
    ] {
        // `anyOf: [{type: integer}, {type: string}]` is how int-or-string is spelled.
        let allowed = key == "type" && int_or_string;
        if branch.get(key).is_some() && !allowed {
            violations.push(format!("{at}: {name} sets {key}"));
        }
    }
    for (field, sub) in branch["properties"].as_object().into_iter().flatten() {
        match outer["properties"].get(field) {
            Some(declared) => check_junctor(sub, declared, at, name, false, violations),
            None => violations.push(format!(
                "{at}: {name} names {field}, which is not among the properties"
            )),
        }
    }
    if let Some(items) = branch.get("items") {
        match outer.get("items") {
            Some(declared) => check_junctor(items, declared, at, name, false, violations),
            None => violations.push(format!("{at}: {name} restricts items of a non-list")),
        }
    }
}
