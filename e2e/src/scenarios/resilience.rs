//! The mesh without its control plane: proxies keep serving the last configuration they
//! received, and pick up changes once the control plane is back.

use anyhow::ensure;

use super::{CONFIG_PATIENCE, count_versions, eventually, networking, wait_for_only, with_rules};
use crate::cluster::Cluster;

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
