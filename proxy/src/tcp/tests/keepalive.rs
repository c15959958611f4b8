//! A cluster's TCP keep-alive that the system refuses fails the connection as a connect failure.

use tokio::io::AsyncReadExt;

use super::*;
use crate::{config::TcpKeepalive, stats::Exporter};

#[tokio::test]
async fn a_keepalive_the_system_refuses_fails_the_connection_with_uf() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut snapshot = snapshot_with("echo", Some(address));
    let mut cluster = snapshot.clusters["echo"].as_ref().clone();
    // Linux takes at most 127 probes (`TCP_KEEPCNT`); the config compiler checks its own bound,
    // so the value is set here directly.
    cluster.connection.tcp_keepalive = Some(TcpKeepalive {
        probes: Some(128),
        ..TcpKeepalive::default()
    });
    snapshot.clusters.insert("echo".into(), Arc::new(cluster));
    let telemetry = quiet();
    let (mut client, proxy_down) = tokio::io::duplex(64);
    // Bounded: a connection that went ahead would wait for the client.
    let log = tokio::time::timeout(
        Duration::from_secs(10),
        proxy(
            proxy_down,
            &tcp_proxy("echo", None),
            &snapshot,
            &downstream(),
            &telemetry,
        ),
    )
    .await
    .unwrap();
    assert_eq!(log.response_flags.to_string(), "UF");
    assert_eq!(log.upstream_host, Some(address));
    assert_eq!(log.end, None);
    assert_eq!((log.bytes_received, log.bytes_sent), (0, 0));
    let rendered = Exporter::new(Arc::clone(&telemetry.stats)).render();
    for line in [
        "mesh_proxy_upstream_connections_active{cluster=\"echo\"} 0",
        "mesh_proxy_upstream_connect_failures_total{cluster=\"echo\"} 1",
    ] {
        assert!(
            rendered.lines().any(|l| l == line),
            "no line {line:?} in:\n{rendered}"
        );
    }
    // The downstream is closed, and the upstream socket too.
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
    let (mut upstream, _) = tokio::time::timeout(Duration::from_secs(10), listener.accept())
        .await
        .unwrap()
        .unwrap();
    let read = tokio::time::timeout(Duration::from_secs(10), upstream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, 0);
}
