//! Istio's mirroring task, on reviews: v1 serves, v2 receives a copy of every request, and the
//! client never sees v2's answers.

use anyhow::{Context, ensure};

use super::{
    CONFIG_PATIENCE, count_versions, eventually, manifest, telemetry::requests_total,
    wait_for_only, with_rules,
};
use crate::cluster::Cluster;

/// Pages loaded while the mirror's received requests are counted.
const PAGES: usize = 10;

/// The cluster productpage's sidecar mirrors to: reviews' subset v2.
const MIRROR_CLUSTER: &str = "outbound|9080|v2|reviews.default.svc.cluster.local";

/// Every page comes from v1 while reviews-v2's sidecar counts a mirrored request per page, and
/// productpage's sidecar counts each of those shadows as sent.
pub fn mirroring(cluster: &impl Cluster) -> anyhow::Result<()> {
    with_rules(cluster, &[manifest("reviews-v1-mirror-v2.yaml")], || {
        wait_for_only(cluster, "v1", None, 6)?;
        // The shadows of the pages above may still be on their way: counting starts once
        // every one of them has ended.
        let before = eventually("earlier shadows end", CONFIG_PATIENCE, || {
            let first = Counts::read(cluster)?;
            let second = Counts::read(cluster)?;
            ensure!(first == second, "still moving: {first:?} then {second:?}");
            Ok(second)
        })?;
        let seen = count_versions(cluster, None, PAGES)?;
        ensure!(
            seen.keys().all(|v| *v == "v1"),
            "the client saw the mirror's answers: {seen:?}"
        );
        // Shadow requests are fire-and-forget: the last ones may still be on their way, so the
        // counts are read until they have caught up, within the config patience.
        eventually("reviews-v2 receives the copies", CONFIG_PATIENCE, || {
            let now = Counts::read(cluster)?;
            ensure!(
                now.received >= before.received + PAGES as f64
                    && now.sent >= before.sent + PAGES as f64,
                "over {PAGES} pages, reviews-v2 received {} requests and productpage's sidecar \
                 counted {} shadows sent, {} failed, {} dropped",
                now.received - before.received,
                now.sent - before.sent,
                now.failed - before.failed,
                now.dropped - before.dropped,
            );
            Ok(())
        })?;
        let after = Counts::read(cluster)?;
        ensure!(
            after.failed == before.failed && after.dropped == before.dropped,
            "shadows lost over {PAGES} pages: {} failed, {} dropped",
            after.failed - before.failed,
            after.dropped - before.dropped,
        );
        Ok(())
    })
}

/// What both ends counted of the mirror's traffic.
#[derive(Debug, PartialEq)]
struct Counts {
    /// Requests reviews-v2's sidecar has served: nothing but the mirror calls it here.
    received: f64,
    /// Shadows to reviews v2 by productpage's sidecar, by outcome.
    sent: f64,
    failed: f64,
    dropped: f64,
}

impl Counts {
    fn read(cluster: &impl Cluster) -> anyhow::Result<Self> {
        let destination = cluster.proxy_admin("reviews-v2", "/stats/prometheus")?;
        let received = requests_total(
            &destination,
            &[
                r#"reporter="destination""#,
                r#"destination_workload="reviews-v2""#,
            ],
        )?;
        let source = cluster.proxy_admin("productpage-v1", "/stats/prometheus")?;
        let shadows = |outcome| shadow_requests(&source, outcome);
        Ok(Self {
            received,
            sent: shadows("sent")?,
            failed: shadows("failed")?,
            dropped: shadows("dropped")?,
        })
    }
}

/// `mesh_proxy_shadow_requests_total` of the mirror cluster for `outcome`; 0 before the first
/// shadow.
fn shadow_requests(exposition: &str, outcome: &str) -> anyhow::Result<f64> {
    let series = format!(
        "mesh_proxy_shadow_requests_total{{cluster=\"{MIRROR_CLUSTER}\",outcome=\"{outcome}\"}} "
    );
    exposition
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(Ok(0.0), |value| {
            value
                .parse()
                .with_context(|| format!("no value in {series}{value}"))
        })
}
