//! `envoy.filters.network.sni_cluster` end to end: mesh-proxy reads a TLS client's SNI with
//! the `tls_inspector` and its TCP proxy connects to the cluster of that name (the TLS passes
//! through untouched); an SNI that names no cluster, and no SNI at all (the configured
//! `BlackHoleCluster`), close the connection without a byte. The access log names the cluster
//! each connection went to.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sni_cluster_support;
mod support;

use std::{net::SocketAddr, sync::mpsc::Receiver, time::Duration};

use mesh_testing::Patience;

use self::{
    sni_cluster_support::{
        SNI_A, SNI_UNKNOWN, SNI_V1, bootstrap, dumped_filter, outcome, tls_upstream,
    },
    support::{bootstrap::mesh_proxy_run, free_port, spawn_with_stdout},
};

/// The access log line of the next connection: its cluster and response flags.
async fn next_log(lines: &Receiver<String>) -> (String, String) {
    let line = tokio::task::block_in_place(|| lines.recv_timeout(Duration::from_secs(10)))
        .expect("an access log line");
    let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    let field = |name: &str| entry[name].as_str().unwrap_or("null").to_owned();
    (field("upstream_cluster"), field("response_flags"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_sni_reaches_the_cluster_of_its_name() {
    let (a, v1) = (tls_upstream("a").await, tls_upstream("v1").await);
    let (port, admin) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bootstrap.yaml");
    std::fs::write(&file, bootstrap(port, admin, a.address, v1.address)).unwrap();
    let (_proxy, lines) = spawn_with_stdout(
        mesh_proxy_run(&file).args(["--health-address=none", "--metrics-address=none"]),
    );
    let proxy = SocketAddr::from(([127, 0, 0, 1], port));
    let upstreams = [&a, &v1];
    // The first connection that gets through says the listener is up; its log line is read
    // (and checked) with the others below, so the retries before it must not log: a refused
    // TCP connect never reaches the proxy.
    Patience::new(Duration::from_secs(30))
        .eventually(|| async {
            match outcome(proxy, Some(SNI_A), &upstreams).await.as_str() {
                "server a, says a" => Ok(()),
                other => Err(other.to_owned()),
            }
        })
        .await
        .expect("mesh-proxy serves the listener");
    assert_eq!(next_log(&lines).await, (SNI_A.to_owned(), "-".to_owned()));

    let cases = [
        (Some(SNI_V1), "server v1, says v1", SNI_V1, "-"),
        (Some(SNI_A), "server a, says a", SNI_A, "-"),
        (Some(SNI_UNKNOWN), "closed after 0 bytes", SNI_UNKNOWN, "NC"),
        (None, "closed after 0 bytes", "BlackHoleCluster", "UH"),
    ];
    for (sni, expected, cluster, flags) in cases {
        assert_eq!(outcome(proxy, sni, &upstreams).await, expected, "{sni:?}");
        assert_eq!(
            next_log(&lines).await,
            (cluster.to_owned(), flags.to_owned()),
            "{sni:?}"
        );
    }

    // `/config_dump` shows the filter as the bootstrap gives it.
    assert_eq!(
        dumped_filter(admin).await,
        serde_json::json!({
            "name": "envoy.filters.network.sni_cluster",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.sni_cluster.v3.SniCluster"
            }
        })
    );
}
