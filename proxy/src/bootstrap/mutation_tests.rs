//! Damaged and hostile bootstrap files: parsing never panics, a refusal names the file and what
//! is wrong, and what is accepted is consistent.
//!
//! The `bootstrap` fuzz target in `proxy/fuzz` explores far more inputs; these bounded,
//! deterministic mutations of the same seeds keep its guarantees checked by every `cargo test`.

use std::{collections::BTreeMap, path::Path};

use mesh_xds::{
    bootstrap::{ProxyIdentity, ProxyKind},
    json,
};

use super::*;
use crate::fuzzing::{self, Mutator, Verdict};

/// The seeds of `proxy/fuzz/seeds/bootstrap/`.
const SEEDS: &[(&str, &str)] = &[
    (
        "sidecar.yaml",
        include_str!("../../fuzz/seeds/bootstrap/sidecar.yaml"),
    ),
    (
        "sidecar.json",
        include_str!("../../fuzz/seeds/bootstrap/sidecar.json"),
    ),
    (
        "gateway.yaml",
        include_str!("../../fuzz/seeds/bootstrap/gateway.yaml"),
    ),
];

/// What YAML, JSON and the bootstrap schema give meaning to, to splice in.
const TOKENS: &[&[u8]] = &[
    b"\n  ",
    b": ",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b",",
    b"&a ",
    b"*a",
    b"!!binary ",
    b"~",
    b"0x",
    b"-1",
    b"4294967296",
    b"1e999",
    b"\"@type\": ",
    b"type.googleapis.com/",
    b"name",
    b"port_value",
    b"STRICT_DNS",
    b"ORIGINAL_DST",
    b"DELTA_GRPC",
    b"ads: {}",
    b"::",
];

#[test]
fn the_seeds_are_accepted() {
    let mut seen = BTreeMap::new();
    for (file, text) in SEEDS {
        let bootstrap = Bootstrap::parse(text, Path::new(file)).expect(file);
        let mut listeners: Vec<_> = bootstrap
            .static_snapshot
            .listeners
            .keys()
            .cloned()
            .collect();
        listeners.sort();
        seen.insert(
            *file,
            (
                bootstrap.node.id,
                bootstrap.ads.map(|a| (a.cluster, a.targets, a.delta)),
                bootstrap.admin.map(|a| a.to_string()),
                listeners,
            ),
        );
    }
    let sidecar = (
        "sidecar~198.18.0.5~reviews-v1-abc.default~default.svc.cluster.local".to_owned(),
        Some((
            "xds-grpc".to_owned(),
            vec![("127.0.0.1".to_owned(), 15010)],
            false,
        )),
        Some("127.0.0.1:15000".to_owned()),
        vec!["virtualInbound".to_owned()],
    );
    assert_eq!(seen["sidecar.yaml"], sidecar);
    assert_eq!(seen["sidecar.json"], sidecar);
    assert_eq!(
        seen["gateway.yaml"],
        (
            "router~198.18.0.20~ingressgateway-7d4b9.mesh-system~mesh-system.svc.cluster.local"
                .to_owned(),
            Some((
                "xds-grpc".to_owned(),
                vec![("198.19.0.10".to_owned(), 15010)],
                true
            )),
            Some("127.0.0.1:15000".to_owned()),
            vec![],
        )
    );
}

#[test]
fn the_fuzz_body_accepts_the_seeds() {
    use Verdict::{Accepted, Malformed};
    let verdicts: Vec<_> = SEEDS
        .iter()
        .map(|(_, text)| fuzzing::bootstrap(text.as_bytes()))
        .collect();
    // JSON is YAML too; YAML is not JSON.
    assert_eq!(
        verdicts,
        [
            [Accepted, Malformed],
            [Accepted, Accepted],
            [Accepted, Malformed]
        ]
    );
}

#[test]
fn damaged_files_never_panic_and_refusals_say_what_is_wrong() {
    let mut mutator = Mutator::new(0x5eed_b007_57ea_0001, TOKENS);
    let mut verdicts: BTreeMap<Verdict, usize> = BTreeMap::new();
    for round in 0..1200 {
        let (_, seed) = SEEDS[round % SEEDS.len()];
        for verdict in fuzzing::bootstrap(&mutator.mutate(seed.as_bytes())) {
            *verdicts.entry(verdict).or_default() += 1;
        }
    }
    // Most damage breaks the syntax or the schema; enough gets through to test the refusals
    // and what is accepted.
    let count = |verdict| verdicts.get(&verdict).copied().unwrap_or_default();
    assert!(count(Verdict::Refused) >= 30, "{verdicts:?}");
    assert!(count(Verdict::Accepted) >= 100, "{verdicts:?}");
}

#[test]
fn hostile_files_are_refused_cleanly() {
    use Verdict::{Accepted, Malformed, Refused};
    for (text, yaml) in [
        ("", Malformed),
        ("~", Malformed),
        ("[]", Malformed),
        ("\"\"", Malformed),
        ("{", Malformed),
        ("node: *a", Malformed),
        ("a: &a [*a, *a, *a, *a, *a, *a]", Malformed),
        ("static_resources: { listeners: [ { name: l } ] }", Refused),
        (
            "admin: { address: { socket_address: { address: 0.0.0.0, port_value: 4294967295 } } }",
            Refused,
        ),
        (
            "dynamic_resources: { ads_config: { api_type: GRPC } }",
            Refused,
        ),
        (
            "static_resources: { clusters: [ { name: c, connect_timeout: -1s } ] }",
            Refused,
        ),
        ("\u{feff}node: { id: a }", Accepted),
    ] {
        // None of these is JSON.
        assert_eq!(
            fuzzing::bootstrap(text.as_bytes()),
            [yaml, Malformed],
            "{text:?}"
        );
    }
}

/// The mutations above with more seeds and rounds, for hunting without a nightly toolchain:
/// `cargo test -p mesh-proxy --lib soak -- --ignored`.
#[test]
#[ignore = "a long run, for hunting rather than CI"]
fn soak() {
    for seed in 1..=10 {
        let mut mutator = Mutator::new(seed, TOKENS);
        for round in 0..2_000 {
            let (_, text) = SEEDS[round % SEEDS.len()];
            fuzzing::bootstrap(&mutator.mutate(text.as_bytes()));
        }
    }
}

/// Writes the seeds that are generated rather than copied: run with `--ignored` after the
/// sidecar fixture or the bootstrap generator changes, and commit the files.
#[test]
#[ignore = "writes proxy/fuzz/seeds/bootstrap; run by hand"]
fn regenerate_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/bootstrap");
    let sidecar = Bootstrap::parse(SEEDS[0].1, Path::new("sidecar.yaml")).unwrap();
    let value = json::to_json(&sidecar.raw).unwrap();
    let text = serde_json::to_string_pretty(&value).unwrap();
    std::fs::write(dir.join("sidecar.json"), text + "\n").unwrap();
    let gateway = ProxyIdentity {
        kind: ProxyKind::Router,
        ip: "198.18.0.20".to_owned(),
        pod: "ingressgateway-7d4b9".to_owned(),
        namespace: "mesh-system".to_owned(),
        service_account: "ingressgateway".to_owned(),
        labels: BTreeMap::from([("app".to_owned(), "ingressgateway".to_owned())]),
        workload_name: "ingressgateway".to_owned(),
        mesh_id: String::new(),
        cluster_domain: "cluster.local".to_owned(),
    };
    let raw = mesh_xds::bootstrap::bootstrap(
        &gateway,
        "198.19.0.10:15010".parse().unwrap(),
        "127.0.0.1:15000".parse().unwrap(),
    );
    let yaml = mesh_xds::bootstrap::to_yaml(&raw).unwrap();
    std::fs::write(dir.join("gateway.yaml"), yaml).unwrap();
}
