//! The mesh when parts of it fail: a dead pod behind a live sidecar is retried around, and
//! proxies keep serving without their control plane.

use anyhow::ensure;

use super::{
    CONFIG_PATIENCE, count_versions, eventually, manifest, networking, wait_for_only, with_rules,
};
use crate::{cluster::Cluster, http::HttpRequest};

/// Calls made to the flaky service per check.
const FLAKY_CALLS: usize = 30;

/// Pages loaded while the control plane is down.
const PAGES_WITHOUT_CONTROL_PLANE: usize = 20;

/// With the control plane stopped, the page still renders through every proxy; once it is
/// back, the proxies reconnect and a new routing rule takes effect.
pub fn control_plane_restart(cluster: &impl Cluster) -> anyhow::Result<()> {
    // The previous scenario's config removal must have reached the proxies before they are cut
    // off from the control plane, or they would keep serving it.
    eventually("pages render before the restart", CONFIG_PATIENCE, || {
        count_versions(cluster, None, 3)
    })?;
    cluster.stop_control_plane()?;
    let served = count_versions(cluster, None, PAGES_WITHOUT_CONTROL_PLANE);
    // Started again whatever the pages showed, so that later scenarios have a control plane.
    cluster.start_control_plane()?;
    let served = served?;
    ensure!(
        served.values().sum::<usize>() == PAGES_WITHOUT_CONTROL_PLANE,
        "pages served without the control plane: {served:?}"
    );
    with_rules(
        cluster,
        &[networking("virtual-service-all-v1.yaml")],
        || wait_for_only(cluster, "v1", None, 6),
    )
}

/// Istio's default retry policy (2 retries on 503 and connection failures, each to a host not
/// tried yet) hides the flaky service's dead pod from its callers; with `retries: {attempts:
/// 0}` the calls that land on it fail.
pub fn retries_hide_a_dead_pod(cluster: &impl Cluster) -> anyhow::Result<()> {
    // No config of flaky's has ever been applied: one try, as a retry of the check would let
    // a mesh without retries pass by luck.
    let statuses = call_flaky(cluster)?;
    ensure!(
        statuses.iter().all(|s| *s == 200),
        "with Istio's default retries: {statuses:?}"
    );
    with_rules(cluster, &[manifest("flaky-no-retries.yaml")], || {
        // Each call picks one of three pods; all 30 avoiding the dead one happens once in
        // 200 000 checks.
        eventually(
            "calls to flaky fail without retries",
            CONFIG_PATIENCE,
            || {
                let statuses = call_flaky(cluster)?;
                ensure!(
                    statuses.iter().all(|s| [200, 503].contains(s)) && statuses.contains(&503),
                    "statuses: {statuses:?}"
                );
                Ok(())
            },
        )
    })
}

/// The statuses of `FLAKY_CALLS` calls from productpage's pod to the flaky service.
fn call_flaky(cluster: &impl Cluster) -> anyhow::Result<Vec<u16>> {
    let request = HttpRequest::get("http://flaky:9080/ratings/0");
    (0..FLAKY_CALLS)
        .map(|_| Ok(cluster.request_from("productpage-v1", &request)?.status))
        .collect()
}
