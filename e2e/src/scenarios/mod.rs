//! The scenarios, written once against [`Cluster`] and run on every substrate. Each one leaves
//! the Istio config as it found it (bookinfo's gateway and nothing else), so they run in any
//! order on one mesh.

mod faults;
mod mirroring;
mod resilience;
mod routing;
mod tcp;
mod telemetry;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use mesh_testing::Patience;

pub use self::faults::{
    circuit_breaking, ratings_abort_for_jason, ratings_delay_for_jason, request_timeout,
};
pub use self::mirroring::mirroring;
pub use self::resilience::{control_plane_restart, retries_hide_a_dead_pod};
pub use self::routing::{
    all_v1, default_load_balancing, header_routing_through_the_gateway, jason_gets_v2,
    page_renders_through_the_gateway, reviews_50_50, reviews_80_20, sidecar_to_sidecar_from_a_pod,
};
pub use self::tcp::tcp_traffic_shifting;
pub use self::telemetry::standard_metrics_name_both_ends;
use crate::{
    cluster::Cluster,
    http::{HttpRequest, HttpResponse},
};

/// One scenario: a name for the report and the function that runs it.
pub type Scenario<C> = (&'static str, fn(&C) -> anyhow::Result<()>);

/// Every scenario, in the order a run takes them.
pub fn all<C: Cluster>() -> Vec<Scenario<C>> {
    vec![
        (
            "page renders through the gateway",
            page_renders_through_the_gateway,
        ),
        (
            "sidecar to sidecar from a pod",
            sidecar_to_sidecar_from_a_pod,
        ),
        (
            "default load balancing reaches every reviews version",
            default_load_balancing,
        ),
        ("all traffic to v1", all_v1),
        ("jason to v2, everyone else to v1", jason_gets_v2),
        ("reviews 50% v1, 50% v3", reviews_50_50),
        ("reviews 80% v1, 20% v2", reviews_80_20),
        ("tcp-echo connections shift 80/20", tcp_traffic_shifting),
        (
            "the gateway routes reviews by header",
            header_routing_through_the_gateway,
        ),
        (
            "ratings delayed for jason: reviews time out",
            ratings_delay_for_jason,
        ),
        (
            "ratings abort for jason: reviews without ratings",
            ratings_abort_for_jason,
        ),
        ("retries hide a dead pod", retries_hide_a_dead_pod),
        ("circuit breaking turns a burst away", circuit_breaking),
        ("a request timeout answers 504 for reviews", request_timeout),
        (
            "proxies serve through a control-plane restart",
            control_plane_restart,
        ),
        (
            "standard metrics name both ends of a call",
            standard_metrics_name_both_ends,
        ),
        // Last, so that its shadows go out on pools, endpoints and clusters that every other
        // scenario has used and changed: where shadows were once lost.
        ("reviews mirrored to v2, served by v1", mirroring),
    ]
}

/// How long config may take to reach every proxy.
const CONFIG_PATIENCE: Duration = Duration::from_secs(60);

/// The repository's `samples/bookinfo/networking` directory.
pub fn networking(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../samples/bookinfo/networking")
        .join(file)
}

/// Waits, with bounded patience, until `check` passes; the error is the last failure seen.
fn eventually<T>(
    what: &str,
    patience: Duration,
    mut check: impl FnMut() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("start a runtime to wait on")?;
    runtime
        .block_on(Patience::new(patience).eventually(|| {
            let result = check().map_err(|e| format!("{e:#}"));
            async move { result }
        }))
        .map_err(|e| anyhow::anyhow!("{what}: {e:?}"))
}

/// A product page through the gateway, as `cookie`'s user.
fn product_page(cluster: &impl Cluster, cookie: Option<&str>) -> anyhow::Result<HttpResponse> {
    let mut request = HttpRequest::get("http://bookinfo/productpage");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    Ok(cluster.through_gateway(&request)?)
}

/// Which reviews version drew a page: v1 has no stars, v2 black ones, v3 red ones.
pub fn reviews_version(page: &str) -> &'static str {
    if page.contains("<font color=\"red\">") {
        "v3"
    } else if page.contains("<font color=\"black\">") {
        "v2"
    } else {
        "v1"
    }
}

/// Loads `pages` product pages and counts the reviews versions that drew them; any page that
/// is not a 200 with both details and reviews fails the count.
fn count_versions(
    cluster: &impl Cluster,
    cookie: Option<&str>,
    pages: usize,
) -> anyhow::Result<BTreeMap<&'static str, usize>> {
    let mut seen = BTreeMap::new();
    for i in 0..pages {
        let page = product_page(cluster, cookie)?;
        if page.status != 200 || page.body.contains("Sorry") {
            bail!("page {i}: status {}: {}", page.status, page.body);
        }
        *seen.entry(reviews_version(&page.body)).or_default() += 1;
    }
    Ok(seen)
}

/// Waits until `pages` consecutive product pages all come from `version`.
fn wait_for_only(
    cluster: &impl Cluster,
    version: &str,
    cookie: Option<&str>,
    pages: usize,
) -> anyhow::Result<()> {
    eventually(
        &format!("reviews settle on {version}"),
        CONFIG_PATIENCE,
        || {
            let seen = count_versions(cluster, cookie, pages)?;
            if seen.keys().any(|v| *v != version) {
                bail!("saw {seen:?}");
            }
            Ok(())
        },
    )
}

/// Runs `check` with bookinfo's destination rules and `files` applied, in order, and removes
/// them afterwards, last first, whether it passed or not.
fn with_rules(
    cluster: &impl Cluster,
    files: &[PathBuf],
    check: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let rules: Vec<PathBuf> = std::iter::once(networking("destination-rule-all.yaml"))
        .chain(files.iter().cloned())
        .collect();
    for file in &rules {
        cluster.apply(file)?;
    }
    let result = check();
    for file in rules.iter().rev() {
        cluster.delete(file)?;
    }
    result
}

/// A file of this suite's own config, in `e2e/manifests`.
pub fn manifest(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("manifests")
        .join(file)
}

/// Logs in as `user` through the gateway and returns the session cookie.
fn login(cluster: &impl Cluster, user: &str) -> anyhow::Result<String> {
    let request = HttpRequest::post_form(
        "http://bookinfo/login",
        &format!("username={user}&passwd=x"),
    );
    let response = cluster.through_gateway(&request)?;
    let cookie = response
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .filter(|c| !c.is_empty())
        .with_context(|| format!("no session cookie: {response:?}"))?;
    Ok(cookie.to_owned())
}
