//! After an `sni_cluster` filter, the connection's SNI names its cluster.

use super::*;

/// A TCP proxy to `backend` with a preceding `sni_cluster` filter.
fn sni_proxy() -> TcpProxy {
    TcpProxy {
        sni_cluster: true,
        ..tcp_proxy("backend", None)
    }
}

fn with_sni(sni: Option<&str>) -> TcpDownstream {
    TcpDownstream {
        server_name: sni.map(str::to_owned),
        ..downstream()
    }
}

/// An upstream that answers `name` to whatever it receives, until end of stream.
async fn upstream(name: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await.unwrap();
        stream.write_all(name).await.unwrap();
    });
    address
}

/// Sends `ping` through `config` for `conn`; what came back and the log.
async fn round_trip(
    config: TcpProxy,
    snapshot: Snapshot,
    conn: TcpDownstream,
    telemetry: &Telemetry,
) -> (Vec<u8>, TcpLog) {
    let (mut client, proxy_down) = tokio::io::duplex(64);
    let telemetry = telemetry.clone();
    let proxied =
        tokio::spawn(async move { proxy(proxy_down, &config, &snapshot, &conn, &telemetry).await });
    // A proxy that found no cluster may have dropped its end already: what comes back says.
    let _ = client.write_all(b"ping").await;
    let _ = client.shutdown().await;
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.unwrap();
    (response, proxied.await.unwrap())
}

#[test]
fn the_sni_names_the_cluster_only_after_an_sni_cluster_filter() {
    let weighted = TcpProxy {
        clusters: Clusters::Weighted {
            targets: vec![
                Clusters::single("x", &FieldPath::root()).unwrap().targets()[0].clone(),
                Clusters::single("z", &FieldPath::root()).unwrap().targets()[0].clone(),
            ],
            cumulative: vec![1, 2],
        },
        ..sni_proxy()
    };
    let cases: [(&TcpProxy, Option<&str>, u64, &str); 7] = [
        (
            &sni_proxy(),
            Some("outbound_.9080_._.a"),
            0,
            "outbound_.9080_._.a",
        ),
        (&sni_proxy(), None, 0, "backend"),
        // Envoy sets no cluster for an empty server name.
        (&sni_proxy(), Some(""), 0, "backend"),
        (&tcp_proxy("backend", None), Some("a"), 0, "backend"),
        // The SNI wins over weighted clusters too; without one, the weights pick.
        (&weighted, Some("a"), 1, "a"),
        (&weighted, None, 0, "x"),
        (&weighted, None, 1, "z"),
    ];
    for (config, sni, random, expected) in cases {
        assert_eq!(
            cluster_of(config, sni, random),
            expected,
            "{sni:?} {random}"
        );
    }
}

#[tokio::test]
async fn a_connection_goes_to_the_cluster_its_sni_names_and_is_counted_there() {
    let (v1, configured) = (upstream(b"v1").await, upstream(b"backend").await);
    let mut snapshot = snapshot_with("outbound_.9080_.v1_.a", Some(v1));
    let other = snapshot_with("backend", Some(configured));
    snapshot.clusters.extend(other.clusters);
    snapshot.endpoints.extend(other.endpoints);
    let (telemetry, mut lines) = telemetry();

    let sni = with_sni(Some("outbound_.9080_.v1_.a"));
    let (response, log) = round_trip(sni_proxy(), snapshot.clone(), sni, &telemetry).await;
    assert_eq!(response, b"v1");
    assert_eq!(log.cluster, "outbound_.9080_.v1_.a");
    assert_eq!(log.upstream_host, Some(v1));
    let line: serde_json::Value = serde_json::from_str(&lines.recv().await.unwrap()).unwrap();
    assert_eq!(line["upstream_cluster"], "outbound_.9080_.v1_.a");

    let (response, log) = round_trip(sni_proxy(), snapshot, with_sni(None), &telemetry).await;
    assert_eq!(response, b"backend");
    assert_eq!(log.cluster, "backend");

    let mut opened: Vec<(String, u64)> = telemetry
        .stats
        .upstream_connections()
        .clusters()
        .into_iter()
        .map(|(cluster, stats)| (cluster, stats.opened))
        .collect();
    opened.sort();
    assert_eq!(
        opened,
        [
            ("backend".to_owned(), 1),
            ("outbound_.9080_.v1_.a".to_owned(), 1)
        ]
    );
}

#[tokio::test]
async fn an_sni_naming_no_cluster_closes_the_connection_with_nc_and_no_bytes() {
    let configured = upstream(b"backend").await;
    let snapshot = snapshot_with("backend", Some(configured));
    let sni = with_sni(Some("outbound_.9080_._.c"));
    let (response, log) = round_trip(sni_proxy(), snapshot, sni, &quiet()).await;
    assert_eq!(response, b"");
    assert_eq!(log.response_flags.to_string(), "NC");
    assert_eq!(log.cluster, "outbound_.9080_._.c");
    assert_eq!(log.upstream_host, None);
    assert_eq!((log.bytes_received, log.bytes_sent), (0, 0));
}
