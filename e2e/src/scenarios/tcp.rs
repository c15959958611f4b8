//! Istio's TCP traffic-shifting task, on the `tcp-echo` workloads: a `tcp` route of a
//! VirtualService moves whole connections between subsets, by weight.

use std::collections::BTreeMap;

use anyhow::{Context, bail, ensure};

use super::{
    CONFIG_PATIENCE, eventually, manifest,
    routing::{SPLIT_PAGES, tolerance},
};
use crate::cluster::Cluster;

/// The workload the connections start from: its sidecar picks the subset.
const CLIENT: &str = "productpage-v1";

/// What each tcp-echo version prefixes its answers with.
const PREFIXES: [(&str, &str); 2] = [("one", "v1"), ("two", "v2")];

/// All connections to v1, then 80% to v1 and 20% to v2.
pub fn tcp_traffic_shifting(cluster: &impl Cluster) -> anyhow::Result<()> {
    with_manifest(cluster, "tcp-echo-all-v1.yaml", || {
        eventually("tcp-echo settles on v1", CONFIG_PATIENCE, || {
            let seen = connect(cluster, 10)?;
            ensure!(seen.keys().all(|v| *v == "v1"), "saw {seen:?}");
            Ok(())
        })
    })?;
    with_manifest(cluster, "tcp-echo-20-v2.yaml", || {
        // Wait until v2 takes connections at all: the split's rules have arrived.
        eventually("tcp-echo v2 takes connections", CONFIG_PATIENCE, || {
            let seen = connect(cluster, 20)?;
            ensure!(seen.contains_key("v2"), "saw {seen:?}");
            Ok(())
        })?;
        let seen = connect(cluster, SPLIT_PAGES)?;
        for (version, weight) in [("v1", 80), ("v2", 20)] {
            let count = seen.get(version).copied().unwrap_or(0);
            let expected = SPLIT_PAGES * weight / 100;
            let tolerance = tolerance(SPLIT_PAGES, weight);
            ensure!(
                count.abs_diff(expected) <= tolerance,
                "{version}: {count} of {SPLIT_PAGES} connections, expected {expected} ± \
                 {tolerance} (all: {seen:?})"
            );
        }
        Ok(())
    })
}

/// Applies one of this suite's manifests around `check`, deleting it whether it passed or not.
fn with_manifest(
    cluster: &impl Cluster,
    file: &str,
    check: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file = manifest(file);
    cluster.apply(&file)?;
    let result = check();
    cluster.delete(&file)?;
    result
}

/// Opens `connections` connections to tcp-echo from the client's pod, one line each, and
/// counts the versions that answered; an answer from neither fails the count.
fn connect(
    cluster: &impl Cluster,
    connections: usize,
) -> anyhow::Result<BTreeMap<&'static str, usize>> {
    let argv: Vec<String> = ["tcp-echo", "send", "tcp-echo:9000", "hello"]
        .into_iter()
        .map(str::to_owned)
        .chain(std::iter::once(connections.to_string()))
        .collect();
    let output = cluster.exec(CLIENT, &argv)?;
    if !output.status.success() {
        bail!(
            "tcp-echo send ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let answers = String::from_utf8(output.stdout).context("tcp-echo's answers")?;
    let mut seen = BTreeMap::new();
    for answer in answers.lines() {
        let version = PREFIXES
            .iter()
            .find(|(prefix, _)| answer == format!("{prefix} hello"))
            .map(|(_, version)| *version)
            .with_context(|| format!("unexpected answer {answer:?}"))?;
        *seen.entry(version).or_default() += 1;
    }
    ensure!(
        seen.values().sum::<usize>() == connections,
        "{connections} connections, answers: {answers:?}"
    );
    Ok(seen)
}
