//! Every resource of the corpus in `tests/data/` decodes with no unknown field and survives a
//! trip through JSON and YAML unchanged; together the corpus sets every field and every enum
//! value of every kind, in every served API version.

mod corpus;

use std::collections::{BTreeMap, BTreeSet};

use corpus::{
    Document, documents, normalized,
    schema::{Seen, SpecSchema},
};
use mesh_common::api::{Decoded, Kind, decode};
use pretty_assertions::assert_eq;
use serde_json::json;

/// Decodes a corpus document, failing on any field the types do not model.
fn decode_known(document: &Document) -> Decoded {
    let decoded = decode(&document.value)
        .unwrap_or_else(|error| panic!("{}: does not decode: {error}", document.origin));
    let unknown: Vec<String> = decoded
        .unknown_fields
        .iter()
        .map(|field| field.path.to_string())
        .collect();
    assert!(
        unknown.is_empty(),
        "{}: fields the types do not model: {unknown:?}",
        document.origin
    );
    decoded
}

#[test]
fn every_document_survives_json_and_yaml() {
    for document in documents() {
        let origin = &document.origin;
        let decoded = decode_known(&document);
        let written = decoded.resource.to_json();

        // Nothing set is lost or altered on the way out.
        assert_eq!(
            normalized(&written["spec"]),
            normalized(&document.value["spec"]),
            "{origin}: spec changed when written back"
        );
        assert_eq!(
            written["metadata"], document.value["metadata"],
            "{origin}: metadata changed when written back"
        );
        assert_eq!(written["kind"], document.value["kind"], "{origin}");

        // And what is written reads back as the same resource.
        let yaml = serde_saphyr::to_string(&written)
            .unwrap_or_else(|error| panic!("{origin}: cannot write YAML: {error}"));
        let reread: serde_json::Value = serde_saphyr::from_str(&yaml)
            .unwrap_or_else(|error| panic!("{origin}: cannot read back its YAML: {error}\n{yaml}"));
        let again = decode_known(&Document {
            origin: format!("{origin} (written back)"),
            value: reread,
        });
        assert_eq!(
            again.resource, decoded.resource,
            "{origin}: changed by the round trip"
        );
        assert_eq!(
            again.api_version,
            decoded.resource.kind().api_version(),
            "{origin}"
        );
    }
}

#[test]
fn corpus_covers_every_kind_and_served_version() {
    let mut kinds = BTreeSet::new();
    let mut versions = BTreeSet::new();
    for document in documents() {
        let decoded = decode_known(&document);
        kinds.insert(decoded.resource.kind());
        versions.insert(decoded.api_version);
    }
    let all_kinds: BTreeSet<Kind> = Kind::ALL.iter().copied().collect();
    assert_eq!(kinds, all_kinds);
    let served: BTreeSet<String> = Kind::ALL
        .iter()
        .flat_map(|kind| {
            kind.versions()
                .iter()
                .map(|v| format!("{}/{v}", kind.group()))
        })
        .collect();
    assert_eq!(
        versions, served,
        "the corpus should use each served apiVersion"
    );
}

/// What the corpus sets, per kind.
fn seen_per_kind() -> BTreeMap<Kind, Seen> {
    let mut seen: BTreeMap<Kind, Seen> = BTreeMap::new();
    let schemas: BTreeMap<Kind, SpecSchema> = Kind::ALL
        .iter()
        .map(|&kind| (kind, SpecSchema::of(kind)))
        .collect();
    for document in documents() {
        let kind = decode_known(&document).resource.kind();
        let spec = &document.value["spec"];
        schemas[&kind].walk(spec, seen.entry(kind).or_default());
    }
    seen
}

/// Fields the types model (because Istio's schema has them) that a realistic resource never sets
/// in that place, with the reason. Kept short: everything else must appear in the corpus.
const NEVER_SET: &[(&str, &str)] = &[
    (
        "VirtualService spec.http.match.queryParams.*.prefix",
        "Istio does not support prefix matches of query parameters",
    ),
    (
        "Sidecar spec.ingress.tls.httpsRedirect",
        "gateway-only: Istio rejects it on a sidecar's inbound listener",
    ),
    (
        "Sidecar spec.ingress.tls.credentialName",
        "gateway-only: a sidecar's inbound TLS reads certificates from files",
    ),
    (
        "Sidecar spec.ingress.tls.credentialNames",
        "gateway-only: a sidecar's inbound TLS reads certificates from files",
    ),
];

#[test]
fn corpus_sets_every_field_of_every_kind() {
    let seen = seen_per_kind();
    let mut missing = Vec::new();
    let mut needlessly_excused = Vec::new();
    for &kind in Kind::ALL {
        let set = seen.get(&kind).map(|s| &s.paths);
        for path in SpecSchema::of(kind).paths() {
            let is_set = set.is_some_and(|paths| paths.contains(&path));
            let name = format!("{kind} {path}");
            let excused = NEVER_SET.iter().any(|(never, _)| *never == name);
            match (is_set, excused) {
                (false, false) => missing.push(name),
                (true, true) => needlessly_excused.push(name),
                _ => {}
            }
        }
    }
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "fields no corpus document sets"
    );
    assert_eq!(
        needlessly_excused,
        Vec::<String>::new(),
        "fields the corpus sets after all: take them off NEVER_SET"
    );
}

#[test]
fn never_set_names_fields_of_the_schemas() {
    let all: BTreeSet<String> = Kind::ALL
        .iter()
        .flat_map(|&kind| {
            SpecSchema::of(kind)
                .paths()
                .into_iter()
                .map(move |p| format!("{kind} {p}"))
        })
        .collect();
    for (name, _) in NEVER_SET {
        assert!(all.contains(*name), "{name} is not a field of any kind");
    }
}

/// Enum values are counted across kinds: `ServerTlsMode` of a Sidecar is the same type as a
/// Gateway's, and not every value makes sense in both.
#[test]
fn corpus_uses_every_enum_value() {
    let mut used: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for seen in seen_per_kind().into_values() {
        for (name, values) in seen.enum_values {
            used.entry(name).or_default().extend(values);
        }
    }
    let mut missing = Vec::new();
    let mut enums: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for &kind in Kind::ALL {
        enums.extend(SpecSchema::of(kind).enums());
    }
    for (name, values) in enums {
        for value in values {
            if !used.get(&name).is_some_and(|u| u.contains(&value)) {
                missing.push(format!("{name}::{value}"));
            }
        }
    }
    assert_eq!(
        missing,
        Vec::<String>::new(),
        "enum values no corpus document uses"
    );
}

#[test]
fn schema_paths_follow_refs_options_lists_and_maps() {
    // Guards the walk itself: a path of each shape it must find.
    let paths = SpecSchema::of(Kind::VirtualService).paths();
    for expected in [
        "spec.hosts",
        "spec.http.route.destination.port.number",
        "spec.http.match.uri.regex",
        "spec.http.match.headers.*.prefix",
        "spec.http.directResponse.body.bytes",
        "spec.http.corsPolicy.allowOrigins.exact",
        "spec.tcp.match.sourceLabels.*",
    ] {
        assert!(paths.contains(expected), "{expected} not in {paths:#?}");
    }
    let enums = SpecSchema::of(Kind::DestinationRule).enums();
    let simple: Vec<&str> = enums["SimpleLb"].iter().map(String::as_str).collect();
    assert_eq!(
        simple,
        [
            "LEAST_CONN",
            "LEAST_REQUEST",
            "PASSTHROUGH",
            "RANDOM",
            "ROUND_ROBIN",
            "UNSPECIFIED"
        ]
    );
}

#[test]
fn walk_records_the_paths_and_enum_values_a_spec_sets() {
    let mut seen = Seen::default();
    let spec = json!({
        "http": [{
            "match": [{"headers": {"x-user": {"exact": "jason"}, "x-team": {"prefix": "qa"}}}],
            "route": [{"destination": {"host": "reviews"}, "weight": 100}],
        }],
    });
    SpecSchema::of(Kind::VirtualService).walk(&spec, &mut seen);
    let paths: Vec<&str> = seen.paths.iter().map(String::as_str).collect();
    assert_eq!(
        paths,
        [
            "spec.http",
            "spec.http.match",
            "spec.http.match.headers",
            "spec.http.match.headers.*",
            "spec.http.match.headers.*.exact",
            "spec.http.match.headers.*.prefix",
            "spec.http.route",
            "spec.http.route.destination",
            "spec.http.route.destination.host",
            "spec.http.route.weight",
        ]
    );
    assert!(seen.enum_values.is_empty());

    let spec = json!({"host": "r", "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}});
    SpecSchema::of(Kind::DestinationRule).walk(&spec, &mut seen);
    let random: BTreeSet<String> = ["RANDOM".to_string()].into();
    assert_eq!(
        seen.enum_values,
        BTreeMap::from([("SimpleLb".to_string(), random)])
    );
}

#[test]
#[should_panic(expected = "spec.trafficPolicy.loadBalancer.simpel is not a field of the schema")]
fn walk_names_a_field_the_schema_lacks() {
    let spec = json!({"host": "r", "trafficPolicy": {"loadBalancer": {"simpel": "RANDOM"}}});
    SpecSchema::of(Kind::DestinationRule).walk(&spec, &mut Seen::default());
}
