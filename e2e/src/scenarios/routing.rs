//! Istio's traffic-management tasks on bookinfo: request routing and traffic shifting.

use anyhow::{bail, ensure};

use super::{
    CONFIG_PATIENCE, count_versions, eventually, login, manifest, networking, product_page,
    wait_for_only, with_rules,
};
use crate::{cluster::Cluster, http::HttpRequest};

/// Pages counted for a weighted split: enough that a fair split lands within the tolerance
/// below except once in a few thousand runs.
pub(super) const SPLIT_PAGES: usize = 100;

/// The page renders through the gateway, its backends reached through two sidecars each.
pub fn page_renders_through_the_gateway(cluster: &impl Cluster) -> anyhow::Result<()> {
    let page = eventually("the product page renders", CONFIG_PATIENCE, || {
        let page = product_page(cluster, None)?;
        ensure!(
            page.status == 200 && !page.body.contains("Sorry"),
            "{}: {}",
            page.status,
            page.body
        );
        Ok(page)
    })?;
    ensure!(
        page.body.contains("<title>Simple Bookstore App</title>"),
        "no title: {}",
        page.body
    );
    ensure!(
        page.body.contains("William Shakespeare"),
        "no details: {}",
        page.body
    );
    Ok(())
}

/// A call from inside productpage's pod reaches details through both sidecars.
pub fn sidecar_to_sidecar_from_a_pod(cluster: &impl Cluster) -> anyhow::Result<()> {
    let response = cluster.request_from(
        "productpage-v1",
        &HttpRequest::get("http://details:9080/details/0"),
    )?;
    ensure!(response.status == 200, "{response:?}");
    ensure!(
        response.body.contains("\"author\":\"William Shakespeare\""),
        "{}",
        response.body
    );
    Ok(())
}

/// With no routing rules, load balancing over reviews' endpoints (Istio's default, least
/// request) reaches all three versions.
pub fn default_load_balancing(cluster: &impl Cluster) -> anyhow::Result<()> {
    // One request at a time leaves every endpoint idle, so each pick is random among them: one
    // version is missed in 30 pages with probability under 2e-5.
    let seen = count_versions(cluster, None, 30)?;
    ensure!(
        ["v1", "v2", "v3"].iter().all(|v| seen.contains_key(v)),
        "reviews versions seen: {seen:?}"
    );
    Ok(())
}

/// Istio's request-routing task, first step: everything to v1.
pub fn all_v1(cluster: &impl Cluster) -> anyhow::Result<()> {
    with_rules(
        cluster,
        &[networking("virtual-service-all-v1.yaml")],
        || wait_for_only(cluster, "v1", None, 6),
    )
}

/// Istio's request-routing task, second step: jason sees v2, everyone else v1.
pub fn jason_gets_v2(cluster: &impl Cluster) -> anyhow::Result<()> {
    with_rules(
        cluster,
        &[networking("virtual-service-reviews-test-v2.yaml")],
        || {
            let jason = login(cluster, "jason")?;
            wait_for_only(cluster, "v2", Some(&jason), 6)?;
            wait_for_only(cluster, "v1", None, 6)
        },
    )
}

/// Istio's traffic-shifting task: half of the traffic to v3.
pub fn reviews_50_50(cluster: &impl Cluster) -> anyhow::Result<()> {
    with_rules(
        cluster,
        &[networking("virtual-service-reviews-50-v3.yaml")],
        || split(cluster, &[("v1", 50), ("v3", 50)]),
    )
}

/// An 80/20 canary: a fifth of the traffic to v2.
pub fn reviews_80_20(cluster: &impl Cluster) -> anyhow::Result<()> {
    with_rules(
        cluster,
        &[networking("virtual-service-reviews-80-20.yaml")],
        || split(cluster, &[("v1", 80), ("v2", 20)]),
    )
}

/// Header-based routing at the ingress gateway: reviews, exposed under a host of its own,
/// answers from v3 for requests carrying `x-reviews-version: v3` and from v1 otherwise; the
/// catch-all host of the bookinfo routes does not serve reviews' paths.
pub fn header_routing_through_the_gateway(cluster: &impl Cluster) -> anyhow::Result<()> {
    let reviews = |version: Option<&str>| {
        let mut request = HttpRequest::get("http://reviews.bookinfo.example/reviews/0");
        if let Some(version) = version {
            request = request.header("x-reviews-version", version);
        }
        cluster.through_gateway(&request)
    };
    with_rules(
        cluster,
        &[manifest("reviews-by-header-gateway.yaml")],
        || {
            eventually(
                "the gateway routes reviews by header",
                CONFIG_PATIENCE,
                || {
                    for (header, pod) in [(Some("v3"), "reviews-v3"), (None, "reviews-v1")] {
                        for _ in 0..5 {
                            let response = reviews(header)?;
                            ensure!(
                                response.status == 200
                                    && response.body.contains(&format!("\"podname\":\"{pod}\"")),
                                "x-reviews-version {header:?}: wanted {pod}, got {}: {}",
                                response.status,
                                response.body
                            );
                        }
                    }
                    Ok(())
                },
            )?;
            // Another header value is no match for the v3 route.
            let response = reviews(Some("v2"))?;
            ensure!(
                response.body.contains("\"podname\":\"reviews-v1\""),
                "x-reviews-version v2: {}",
                response.body
            );
            let other_host =
                cluster.through_gateway(&HttpRequest::get("http://bookinfo/reviews/0"))?;
            ensure!(other_host.status == 404, "{other_host:?}");
            Ok(())
        },
    )
}

/// Waits until only the versions of `weights` answer, then checks that `SPLIT_PAGES` pages
/// split between them within three standard deviations of the weights.
fn split(cluster: &impl Cluster, weights: &[(&str, usize)]) -> anyhow::Result<()> {
    let wanted: Vec<&str> = weights.iter().map(|(v, _)| *v).collect();
    eventually("only the weighted versions answer", CONFIG_PATIENCE, || {
        let seen = count_versions(cluster, None, 10)?;
        if let Some(other) = seen.keys().find(|v| !wanted.contains(v)) {
            bail!("{other} still answers: {seen:?}");
        }
        Ok(())
    })?;
    let seen = count_versions(cluster, None, SPLIT_PAGES)?;
    for (version, weight) in weights {
        let count = seen.get(version).copied().unwrap_or(0);
        let tolerance = tolerance(SPLIT_PAGES, *weight);
        let expected = SPLIT_PAGES * weight / 100;
        ensure!(
            count.abs_diff(expected) <= tolerance,
            "{version}: {count} of {SPLIT_PAGES} pages, expected {expected} ± {tolerance} \
             (all: {seen:?})"
        );
    }
    Ok(())
}

/// Three standard deviations of a binomial count: `n` draws at `percent`%.
pub(super) fn tolerance(n: usize, percent: usize) -> usize {
    let p = percent as f64 / 100.0;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    (3.0 * sd).ceil() as usize
}

#[cfg(test)]
mod tests {
    use super::tolerance;

    #[test]
    fn tolerances_are_three_standard_deviations() {
        assert_eq!(tolerance(100, 50), 15);
        assert_eq!(tolerance(100, 80), 12);
        assert_eq!(tolerance(100, 20), 12);
        assert_eq!(tolerance(100, 100), 0);
    }
}
