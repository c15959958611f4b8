//! Istio's standard metrics, as Kiali and Grafana's Istio dashboards read them: the calls made
//! are counted by both sidecars of each hop, with the workloads and service named.

use anyhow::{Context, ensure};

use super::{CONFIG_PATIENCE, count_versions, eventually};
use crate::cluster::Cluster;

/// Pages loaded before the counters are read.
const PAGES: usize = 5;

/// Both ends of productpage → details count every call, each labelled with both workloads.
pub fn standard_metrics_name_both_ends(cluster: &impl Cluster) -> anyhow::Result<()> {
    // Pages render again once the previous scenario's config is gone from every proxy.
    eventually("pages render", CONFIG_PATIENCE, || {
        count_versions(cluster, None, 3)
    })?;
    let before = details_calls(cluster)?;
    count_versions(cluster, None, PAGES)?;
    let after = details_calls(cluster)?;
    for (side, (was, now)) in ["productpage-v1 (source)", "details-v1 (destination)"]
        .iter()
        .zip(before.into_iter().zip(after))
    {
        ensure!(
            now >= was + PAGES as f64,
            "{side}: istio_requests_total went from {was} to {now} over {PAGES} pages"
        );
    }
    Ok(())
}

/// `istio_requests_total` for productpage → details as reported by productpage's sidecar and
/// by details' sidecar; 0 before the first call.
fn details_calls(cluster: &impl Cluster) -> anyhow::Result<[f64; 2]> {
    let common = [
        r#"source_workload="productpage-v1""#,
        r#"source_app="productpage""#,
        r#"destination_workload="details-v1""#,
        r#"destination_app="details""#,
        r#"destination_service="details.default.svc.cluster.local""#,
        r#"destination_service_name="details""#,
        r#"request_protocol="http""#,
        r#"response_code="200""#,
    ];
    let source = cluster.proxy_admin("productpage-v1", "/stats/prometheus")?;
    let destination = cluster.proxy_admin("details-v1", "/stats/prometheus")?;
    let with = |reporter| [&common[..], &[reporter]].concat();
    Ok([
        requests_total(&source, &with(r#"reporter="source""#))?,
        requests_total(&destination, &with(r#"reporter="destination""#))?,
    ])
}

/// The sum of the `istio_requests_total` series that carry every label of `labels`; 0 when
/// there is none yet.
pub(super) fn requests_total(exposition: &str, labels: &[&str]) -> anyhow::Result<f64> {
    let mut total = 0.0;
    for line in exposition.lines().filter(|line| {
        line.starts_with("istio_requests_total{") && labels.iter().all(|l| line.contains(l))
    }) {
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|value| value.parse().ok())
            .with_context(|| format!("no value in {line:?}"))?;
        total += value;
    }
    Ok(total)
}
