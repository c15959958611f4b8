//! Istio's fault-injection and circuit-breaking tasks: what users see when a dependency is
//! slow, failing, or overloaded.

use anyhow::{bail, ensure};

use super::{
    CONFIG_PATIENCE, eventually, login, manifest, networking, product_page,
    telemetry::requests_total, wait_for_only, with_rules,
};
use crate::cluster::Cluster;

/// What productpage says when reviews did not answer in time.
const REVIEWS_UNAVAILABLE: &str = "Sorry, product reviews are currently unavailable for this book.";
/// What reviews says in place of the stars when ratings failed.
const RATINGS_UNAVAILABLE: &str = "Ratings service is currently unavailable";

/// Calls made at once in the circuit-breaking scenario.
const BURST: usize = 10;

/// Jason's calls to ratings are held 7 s. Reviews v2 waits up to 10 s for them, productpage
/// gives up on reviews first (3 s and one retry) and says so — the bug Istio's delay task
/// uncovers — while everyone else's page is untouched.
pub fn ratings_delay_for_jason(cluster: &impl Cluster) -> anyhow::Result<()> {
    ratings_fault_for_jason(
        cluster,
        "virtual-service-ratings-test-delay.yaml",
        "jason's reviews time out",
        |page| page.contains(REVIEWS_UNAVAILABLE),
    )
}

/// Jason's calls to ratings fail with 500: his page shows reviews v2 without stars and
/// reviews' message in their place; everyone else's page is untouched.
pub fn ratings_abort_for_jason(cluster: &impl Cluster) -> anyhow::Result<()> {
    ratings_fault_for_jason(
        cluster,
        "virtual-service-ratings-test-abort.yaml",
        "jason's ratings fail",
        |page| page.contains(RATINGS_UNAVAILABLE) && !page.contains("Sorry"),
    )
}

/// Istio's fault-injection task: everyone on v1, jason on v2, and `fault` on jason's calls to
/// ratings; waits until jason's page passes `seen`, then checks anonymous pages are untouched.
fn ratings_fault_for_jason(
    cluster: &impl Cluster,
    fault: &str,
    what: &str,
    seen: impl Fn(&str) -> bool,
) -> anyhow::Result<()> {
    let rules = [
        networking("virtual-service-all-v1.yaml"),
        networking("virtual-service-reviews-test-v2.yaml"),
        networking(fault),
    ];
    with_rules(cluster, &rules, || {
        let jason = login(cluster, "jason")?;
        eventually(what, CONFIG_PATIENCE, || {
            let page = product_page(cluster, Some(&jason))?;
            ensure!(
                page.status == 200 && seen(&page.body),
                "{}: {}",
                page.status,
                page.body
            );
            Ok(())
        })?;
        wait_for_only(cluster, "v1", None, 3)
    })
}

/// With one connection and one pending request allowed to reviews, a burst of concurrent calls
/// from productpage's pod sees some answered and the rest turned away by its sidecar with 503.
/// Reviews v2 holds each call a second (ratings is delayed), so the calls overlap.
pub fn circuit_breaking(cluster: &impl Cluster) -> anyhow::Result<()> {
    let rules = [
        manifest("reviews-circuit-breaker.yaml"),
        manifest("reviews-v2.yaml"),
        manifest("ratings-delay-1s.yaml"),
    ];
    with_rules(cluster, &rules, || {
        eventually("the circuit breaker trips", CONFIG_PATIENCE, || {
            let codes = burst(cluster)?;
            let ok = codes.iter().filter(|c| *c == "200").count();
            let overflowed = codes.iter().filter(|c| *c == "503").count();
            if ok == 0 || overflowed == 0 || ok + overflowed != BURST {
                bail!("status codes of {BURST} concurrent calls: {codes:?}");
            }
            Ok(())
        })?;
        // The 503s are the client sidecar's circuit breaker (`UO`), not reviews failing.
        let metrics = cluster.proxy_admin("productpage-v1", "/stats/prometheus")?;
        let overflows = requests_total(
            &metrics,
            &[
                r#"reporter="source""#,
                r#"destination_service_name="reviews""#,
                r#"response_code="503""#,
                r#"response_flags="UO""#,
            ],
        )?;
        ensure!(overflows > 0.0, "no 503 UO to reviews in:\n{metrics}");
        Ok(())
    })
}

/// Istio's request-timeouts task: with ratings held 2 s and a 0.5 s timeout on reviews,
/// productpage's sidecar answers 504 (`UT`) in reviews' place, and the page says reviews are
/// unavailable.
pub fn request_timeout(cluster: &impl Cluster) -> anyhow::Result<()> {
    let rules = [
        networking("virtual-service-all-v1.yaml"),
        manifest("reviews-v2-timeout.yaml"),
        manifest("ratings-delay-2s.yaml"),
    ];
    with_rules(cluster, &rules, || {
        eventually("reviews times out", CONFIG_PATIENCE, || {
            let page = product_page(cluster, None)?;
            ensure!(
                page.status == 200 && page.body.contains(REVIEWS_UNAVAILABLE),
                "{}: {}",
                page.status,
                page.body
            );
            Ok(())
        })?;
        let metrics = cluster.proxy_admin("productpage-v1", "/stats/prometheus")?;
        let timeouts = requests_total(
            &metrics,
            &[
                r#"reporter="source""#,
                r#"destination_service_name="reviews""#,
                r#"response_code="504""#,
                r#"response_flags="UT""#,
            ],
        )?;
        ensure!(timeouts > 0.0, "no 504 UT to reviews in:\n{metrics}");
        Ok(())
    })
}

/// `BURST` concurrent calls to reviews from productpage's pod; their status codes.
fn burst(cluster: &impl Cluster) -> anyhow::Result<Vec<String>> {
    let script = format!(
        "for i in $(seq {BURST}); do curl --silent --output /dev/null --max-time 15 \
         --write-out '%{{http_code}}\\n' http://reviews:9080/reviews/0 & done; wait"
    );
    let output = cluster.exec("productpage-v1", &["bash".into(), "-c".into(), script])?;
    ensure!(
        output.status.success(),
        "the burst failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}
