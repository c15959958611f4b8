use std::{collections::BTreeSet, path::Path};

use pretty_assertions::assert_eq;
use serde_json::Value;

use super::{markdown::escape, *};
use crate::api::{self, decode};

mod report;
mod traffic_policy;

use self::report::{landed, owned, warnings};

// === the table against the types ===

/// The JSON schema of a kind's `spec`, as the types in `api/` derive it.
fn spec_schema(kind: Kind) -> schemars::Schema {
    use schemars::schema_for;
    match kind {
        Kind::VirtualService => schema_for!(api::VirtualServiceSpec),
        Kind::DestinationRule => schema_for!(api::DestinationRuleSpec),
        Kind::Gateway => schema_for!(api::GatewaySpec),
        Kind::ServiceEntry => schema_for!(api::ServiceEntrySpec),
        Kind::WorkloadEntry => schema_for!(api::WorkloadEntrySpec),
        Kind::Sidecar => schema_for!(api::SidecarSpec),
        Kind::AuthorizationPolicy => schema_for!(api::AuthorizationPolicySpec),
        Kind::PeerAuthentication => schema_for!(api::PeerAuthenticationSpec),
        Kind::RequestAuthentication => schema_for!(api::RequestAuthenticationSpec),
        Kind::Telemetry => schema_for!(api::TelemetrySpec),
    }
}

/// Every field path of a kind's `spec`: object properties, through `$ref`s, list items and the
/// alternatives of `oneOf`/`anyOf` (a `StringMatch`'s `exact`, an `Option`'s value), stopping at
/// maps (`additionalProperties`), whose keys are not fields.
fn schema_paths(kind: Kind) -> BTreeSet<String> {
    fn walk(root: &Value, node: &Value, path: &str, out: &mut BTreeSet<String>) {
        let node = match node.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let (defs, name) = reference.trim_start_matches("#/").split_once('/').unwrap();
                &root[defs][name]
            }
            None => node,
        };
        assert!(!node.is_null(), "{path}: dangling $ref");
        if let Some(properties) = node.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let child = format!("{path}.{name}");
                out.insert(child.clone());
                walk(root, property, &child, out);
            }
        }
        if let Some(items) = node.get("items") {
            walk(root, items, path, out);
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for alternative in node
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                walk(root, alternative, path, out);
            }
        }
    }
    let root = spec_schema(kind).to_value();
    let mut out = BTreeSet::new();
    walk(&root, &root, "spec", &mut out);
    out
}

fn table_paths(kind: Kind) -> BTreeSet<String> {
    table()
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.path.to_string())
        .collect()
}

#[test]
fn every_field_of_every_kind_is_listed() {
    for &kind in Kind::ALL {
        let missing: Vec<_> = schema_paths(kind)
            .difference(&table_paths(kind))
            .cloned()
            .collect();
        assert_eq!(
            missing,
            Vec::<String>::new(),
            "{kind}: fields with no line in support/fields/: decide their support"
        );
    }
}

#[test]
fn every_listed_field_exists() {
    for &kind in Kind::ALL {
        let stale: Vec<_> = table_paths(kind)
            .difference(&schema_paths(kind))
            .cloned()
            .collect();
        assert_eq!(
            stale,
            Vec::<String>::new(),
            "{kind}: lines for fields the types do not have"
        );
    }
}

#[test]
fn the_schema_walk_sees_nested_enums_and_stops_at_maps() {
    let paths = schema_paths(Kind::VirtualService);
    for present in [
        "spec.http.match.uri.regex",
        "spec.http.directResponse.body.bytes",
        "spec.http.match.headers",
        "spec.http.route.destination.port.number",
    ] {
        assert!(paths.contains(present), "{present}");
    }
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("spec.http.match.headers."))
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("spec.http.headers.request.set."))
    );
}

#[test]
fn no_field_is_listed_twice() {
    for &(kind, entries) in fields::SECTIONS {
        let mut seen = BTreeSet::new();
        for entry in entries {
            assert!(
                seen.insert(entry.path),
                "{kind} {} is listed twice",
                entry.path
            );
        }
    }
    let kinds: BTreeSet<_> = fields::SECTIONS.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds.len(),
        fields::SECTIONS.len(),
        "a kind has two sections"
    );
}

#[test]
fn parents_come_before_children_and_top_level_fields_decide() {
    for &(kind, entries) in fields::SECTIONS {
        let mut seen = BTreeSet::new();
        for entry in entries {
            match parent(entry.path) {
                Some("spec") => assert!(
                    entry.support.is_some(),
                    "{kind} {}: a top-level field has no parent to inherit from",
                    entry.path
                ),
                Some(parent) => assert!(
                    seen.contains(parent),
                    "{kind} {}: its parent must be listed before it",
                    entry.path
                ),
                None => panic!("{kind} {}: paths start with spec.", entry.path),
            }
            seen.insert(entry.path);
        }
    }
}

/// A field honoured inside one that is not would never be reached: `report` stops at the
/// outermost field that is not implemented. So a parent with an implemented part is itself
/// implemented, and its missing parts say `planned`.
#[test]
fn children_are_never_more_supported_than_their_parents() {
    for field in table() {
        if let Some(parent) = parent(field.path).and_then(|p| the_table().get(field.kind, p)) {
            assert!(
                field.support >= parent.support,
                "{} {} is {} under {} {}",
                field.kind,
                field.path,
                field.support,
                parent.path,
                parent.support
            );
        }
    }
}

#[test]
fn the_implemented_features_are_the_ones_translation_honours() {
    // Each line is a feature the control plane's translation turns into Envoy configuration;
    // its inheriting parts come with it. Change this list together with the translation.
    let implemented: Vec<_> = fields::SECTIONS
        .iter()
        .flat_map(|(kind, entries)| entries.iter().map(move |e| (kind, e)))
        .filter(|(_, e)| e.support == Some(Support::Implemented))
        .map(|(kind, e)| format!("{kind} {}", e.path))
        .collect();
    assert_eq!(
        implemented,
        [
            "VirtualService spec.hosts",
            "VirtualService spec.gateways",
            "VirtualService spec.http",
            "VirtualService spec.tls",
            "VirtualService spec.tcp",
            "VirtualService spec.exportTo",
            "VirtualService spec.http.name",
            "VirtualService spec.http.match",
            "VirtualService spec.http.route",
            "VirtualService spec.http.redirect",
            "VirtualService spec.http.directResponse",
            "VirtualService spec.http.delegate",
            "VirtualService spec.http.rewrite",
            "VirtualService spec.http.timeout",
            "VirtualService spec.http.retries",
            "VirtualService spec.http.fault",
            "VirtualService spec.http.mirror",
            "VirtualService spec.http.mirrors",
            "VirtualService spec.http.mirrorPercent",
            "VirtualService spec.http.mirrorPercentage",
            "VirtualService spec.http.corsPolicy",
            "VirtualService spec.http.headers",
            "VirtualService spec.http.match.name",
            "VirtualService spec.http.match.uri",
            "VirtualService spec.http.match.scheme",
            "VirtualService spec.http.match.method",
            "VirtualService spec.http.match.authority",
            "VirtualService spec.http.match.headers",
            "VirtualService spec.http.match.port",
            "VirtualService spec.http.match.sourceLabels",
            "VirtualService spec.http.match.gateways",
            "VirtualService spec.http.match.queryParams",
            "VirtualService spec.http.match.ignoreUriCase",
            "VirtualService spec.http.match.withoutHeaders",
            "VirtualService spec.http.match.sourceNamespace",
            "VirtualService spec.http.route.weight",
            "VirtualService spec.http.route.headers",
            "VirtualService spec.http.fault.delay.percent",
            "VirtualService spec.http.corsPolicy.allowOrigin",
            "DestinationRule spec.host",
            "DestinationRule spec.trafficPolicy",
            "DestinationRule spec.subsets",
            "DestinationRule spec.exportTo",
            "DestinationRule spec.workloadSelector",
            "DestinationRule spec.subsets.trafficPolicy",
            "DestinationRule spec.trafficPolicy.loadBalancer",
            "DestinationRule spec.trafficPolicy.connectionPool",
            "DestinationRule spec.trafficPolicy.outlierDetection",
            "DestinationRule spec.trafficPolicy.tls",
            "DestinationRule spec.trafficPolicy.portLevelSettings",
            "DestinationRule spec.trafficPolicy.loadBalancer.simple",
            "DestinationRule spec.trafficPolicy.loadBalancer.consistentHash",
            "DestinationRule spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
            "DestinationRule spec.trafficPolicy.connectionPool.tcp",
            "DestinationRule spec.trafficPolicy.connectionPool.http",
            "DestinationRule spec.trafficPolicy.connectionPool.tcp.tcpKeepalive",
            "DestinationRule spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration",
            "DestinationRule spec.trafficPolicy.connectionPool.tcp.idleTimeout",
            "DestinationRule spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection",
            "DestinationRule spec.trafficPolicy.connectionPool.http.idleTimeout",
            "DestinationRule spec.trafficPolicy.connectionPool.http.h2UpgradePolicy",
            "DestinationRule spec.trafficPolicy.connectionPool.http.useClientProtocol",
            "DestinationRule spec.trafficPolicy.connectionPool.http.maxConcurrentStreams",
            "DestinationRule spec.trafficPolicy.outlierDetection.minHealthPercent",
            "DestinationRule spec.trafficPolicy.tls.credentialName",
            "DestinationRule spec.trafficPolicy.portLevelSettings.loadBalancer",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool",
            "DestinationRule spec.trafficPolicy.portLevelSettings.outlierDetection",
            "DestinationRule spec.trafficPolicy.portLevelSettings.tls",
            "DestinationRule spec.trafficPolicy.portLevelSettings.loadBalancer.simple",
            "DestinationRule spec.trafficPolicy.portLevelSettings.loadBalancer.consistentHash",
            "DestinationRule spec.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.minimumRingSize",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.tcp",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.http",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.tcp.tcpKeepalive",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.tcp.maxConnectionDuration",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.tcp.idleTimeout",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.http.maxRequestsPerConnection",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.http.idleTimeout",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.http.h2UpgradePolicy",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.http.useClientProtocol",
            "DestinationRule spec.trafficPolicy.portLevelSettings.connectionPool.http.maxConcurrentStreams",
            "DestinationRule spec.trafficPolicy.portLevelSettings.outlierDetection.minHealthPercent",
            "DestinationRule spec.trafficPolicy.portLevelSettings.tls.credentialName",
            "DestinationRule spec.subsets.trafficPolicy.loadBalancer",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool",
            "DestinationRule spec.subsets.trafficPolicy.outlierDetection",
            "DestinationRule spec.subsets.trafficPolicy.tls",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings",
            "DestinationRule spec.subsets.trafficPolicy.loadBalancer.simple",
            "DestinationRule spec.subsets.trafficPolicy.loadBalancer.consistentHash",
            "DestinationRule spec.subsets.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.tcp",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.http",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.tcp.tcpKeepalive",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.tcp.maxConnectionDuration",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.tcp.idleTimeout",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.http.maxRequestsPerConnection",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.http.idleTimeout",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.http.h2UpgradePolicy",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.http.useClientProtocol",
            "DestinationRule spec.subsets.trafficPolicy.connectionPool.http.maxConcurrentStreams",
            "DestinationRule spec.subsets.trafficPolicy.outlierDetection.minHealthPercent",
            "DestinationRule spec.subsets.trafficPolicy.tls.credentialName",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.loadBalancer",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.outlierDetection",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.tls",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.simple",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.consistentHash",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.loadBalancer.consistentHash.minimumRingSize",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.tcp",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.http",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.tcp.tcpKeepalive",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.tcp.maxConnectionDuration",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.tcp.idleTimeout",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.http.maxRequestsPerConnection",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.http.idleTimeout",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.http.h2UpgradePolicy",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.http.useClientProtocol",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.connectionPool.http.maxConcurrentStreams",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.outlierDetection.minHealthPercent",
            "DestinationRule spec.subsets.trafficPolicy.portLevelSettings.tls.credentialName",
            "Gateway spec.servers",
            "Gateway spec.selector",
            "Gateway spec.servers.bind",
            "Gateway spec.servers.tls",
            "ServiceEntry spec.hosts",
            "ServiceEntry spec.addresses",
            "ServiceEntry spec.ports",
            "ServiceEntry spec.resolution",
            "ServiceEntry spec.endpoints",
            "ServiceEntry spec.workloadSelector",
            "ServiceEntry spec.exportTo",
            "WorkloadEntry spec.address",
            "WorkloadEntry spec.ports",
            "WorkloadEntry spec.labels",
            "WorkloadEntry spec.weight",
            "Sidecar spec.workloadSelector",
            "Sidecar spec.ingress",
            "Sidecar spec.egress",
            "Sidecar spec.inboundConnectionPool",
            "Sidecar spec.outboundTrafficPolicy",
            "Sidecar spec.ingress.connectionPool",
            "Sidecar spec.egress.port",
            "Sidecar spec.egress.hosts",
            "Sidecar spec.outboundTrafficPolicy.egressProxy",
            "Telemetry spec.selector",
            "Telemetry spec.tracing",
            "Telemetry spec.tracing.match",
            "Telemetry spec.tracing.providers",
            "Telemetry spec.tracing.randomSamplingPercentage",
            "Telemetry spec.tracing.disableSpanReporting",
            "Telemetry spec.tracing.customTags",
            "Telemetry spec.tracing.useRequestIdForTraceSampling",
            "Telemetry spec.tracing.enableIstioTags",
        ]
    );
}

// === lookup ===

#[test]
fn lookup_finds_fields_and_falls_back_to_the_nearest_listed_ancestor() {
    let found = |kind, path| lookup(kind, path).map(|f| (f.path, f.support, f.note));

    assert_eq!(
        found(Kind::VirtualService, "spec.http.mirrorPercent"),
        Some((
            "spec.http.mirrorPercent",
            Support::Implemented,
            "deprecated by Istio: use mirrorPercentage"
        ))
    );
    // An inheriting field has its parent's support.
    assert_eq!(
        found(Kind::VirtualService, "spec.http.match.uri.exact"),
        Some(("spec.http.match.uri.exact", Support::Implemented, ""))
    );
    // A map key gets its map's entry.
    assert_eq!(
        found(Kind::VirtualService, "spec.http.match.headers.x-user"),
        Some(("spec.http.match.headers", Support::Implemented, ""))
    );
    assert_eq!(
        found(Kind::Sidecar, "spec.ingress.tls.mode.extra"),
        Some(("spec.ingress.tls.mode", Support::NotPlanned, "",))
    );
    assert_eq!(found(Kind::VirtualService, "spec.nonsense"), None);
    assert_eq!(found(Kind::Gateway, "spec.http"), None);
    assert_eq!(found(Kind::Gateway, ""), None);
}

#[test]
fn inherit_follows_the_parent_and_keeps_its_own_exceptions() {
    let table = landed(&["spec.http", "spec.http.fault"]);
    let support = |path| table.get(Kind::VirtualService, path).unwrap().support;
    assert_eq!(support("spec.http.fault.delay"), Support::Implemented);
    assert_eq!(
        support("spec.http.fault.delay.fixedDelay"),
        Support::Implemented
    );
    assert_eq!(
        support("spec.http.fault.abort.percentage.value"),
        Support::Implemented
    );
    assert_eq!(
        support("spec.http.fault.delay.exponentialDelay"),
        Support::NotPlanned
    );
    assert_eq!(
        support("spec.http.fault.abort.grpcStatus"),
        Support::Implemented
    );
    assert_eq!(support("spec.http.retries.attempts"), Support::Planned);
}

// === docs ===

#[test]
fn markdown_lists_every_field_under_its_kind() {
    let page = markdown();
    assert!(page.starts_with("# Istio API support\n"));
    assert!(page.contains(
        "\n## VirtualService\n\n`networking.istio.io/v1` (also `v1beta1`, `v1alpha3`): 156 fields, \
         149 implemented, 3 planned, 4 not planned.\n\n\
         | field | support | note |\n| --- | --- | --- |\n| `spec.hosts` | implemented | |\n"
    ));
    assert!(page.contains(
        "\n| `spec.http.mirrorPercent` | implemented | \
         deprecated by Istio: use mirrorPercentage |\n"
    ));
    assert!(page.contains("\n| [DestinationRule](#destinationrule) | 321 | 227 | 58 | 36 |\n"));
    let rows = page.lines().filter(|l| l.starts_with("| `spec.")).count();
    assert_eq!(rows, table().len());
    assert_eq!(escape("a|b"), "a\\|b");
}

/// `docs/istio-support.md` is this table, rendered. After changing the table, regenerate it:
/// `MESH_UPDATE_DOCS=1 cargo test -p mesh-common docs_are_current`.
#[test]
fn docs_are_current() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/istio-support.md");
    let page = markdown();
    if std::env::var("MESH_UPDATE_DOCS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == page,
        "docs/istio-support.md is out of date: regenerate it with \
         `MESH_UPDATE_DOCS=1 cargo test -p mesh-common docs_are_current`"
    );
}
