//! Captured connections through the real listeners: hand-off by original destination, chain
//! selection by prefix, half-close, idle timeout and connect failures, over loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serve_support;

use std::time::Duration;

use mesh_proxy::{
    capture::OriginalDst,
    config::{FilterChainMatch, Snapshot},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::Instant,
};

use self::serve_support::*;

/// A snapshot with `virtualOutbound` (to the `passthrough` upstream) and the given
/// non-binding listeners, with upstreams tagged by their cluster name.
async fn capture_snapshot(listeners: Vec<serve_support::ListenerSpec>) -> Snapshot {
    let mut snapshot = Snapshot::default();
    insert(&mut snapshot, virtual_outbound("passthrough"));
    add_cluster(
        &mut snapshot,
        "passthrough",
        tagged_echo("passthrough|").await,
    );
    for spec in listeners {
        for cluster in spec.clusters() {
            add_cluster(&mut snapshot, cluster, tagged_echo(tag(cluster)).await);
        }
        insert(&mut snapshot, spec.build());
    }
    snapshot
}

fn tag(cluster: &str) -> &'static str {
    match cluster {
        "exact" => "exact|",
        "wildcard" => "wildcard|",
        "wide" => "wide|",
        "narrow" => "narrow|",
        other => panic!("no tag for {other}"),
    }
}

async fn through_capture(snapshot: Snapshot, original_dst: &str, request: &str) -> String {
    let (_store, plane) = start(
        snapshot,
        OriginalDst::Fixed(original_dst.parse().unwrap()),
        &["virtualOutbound"],
    )
    .await;
    let address = plane.bound()["virtualOutbound"];
    exchange_text(address, request).await
}

#[tokio::test]
async fn captured_connections_go_to_the_listener_of_their_destination() {
    let specs = || {
        vec![
            ListenerSpec::single("198.19.0.5_9080", "198.19.0.5:9080", "exact"),
            ListenerSpec::single("0.0.0.0_9080", "0.0.0.0:9080", "wildcard"),
        ]
    };
    // The exact address first, then the unspecified address of the port, else the capture
    // listener's own chains.
    assert_eq!(
        through_capture(capture_snapshot(specs()).await, "198.19.0.5:9080", "hi").await,
        "exact|hi"
    );
    assert_eq!(
        through_capture(capture_snapshot(specs()).await, "198.19.0.6:9080", "hi").await,
        "wildcard|hi"
    );
    assert_eq!(
        through_capture(capture_snapshot(specs()).await, "198.19.0.5:9081", "hi").await,
        "passthrough|hi"
    );
}

#[tokio::test]
async fn the_handed_off_listener_picks_its_chain_by_prefix() {
    let spec = || {
        vec![ListenerSpec::chains(
            "0.0.0.0_9080",
            "0.0.0.0:9080",
            vec![
                ("wide", prefix("198.19.0.0/16")),
                ("narrow", prefix("198.19.0.5/32")),
            ],
        )]
    };
    assert_eq!(
        through_capture(capture_snapshot(spec()).await, "198.19.0.5:9080", "hi").await,
        "narrow|hi"
    );
    assert_eq!(
        through_capture(capture_snapshot(spec()).await, "198.19.7.7:9080", "hi").await,
        "wide|hi"
    );
    // No chain matches 198.18/16 and there is no default chain: closed without a byte.
    assert_eq!(
        through_capture(capture_snapshot(spec()).await, "198.18.0.1:9080", "").await,
        ""
    );
}

#[tokio::test]
async fn the_upstream_answers_after_the_client_half_closes() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut snapshot = Snapshot::default();
    add_cluster(&mut snapshot, "late", upstream.local_addr().unwrap());
    insert(
        &mut snapshot,
        listener(
            "late",
            "0.0.0.0:9000",
            true,
            tcp_chain("late", FilterChainMatch::default(), None),
        ),
    );
    let (_store, plane) = start(snapshot, OriginalDst::Socket, &["late"]).await;
    let server = tokio::spawn(async move {
        let (mut stream, _) = upstream.accept().await.unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await.unwrap();
        // Only after the end of the request: the proxy must keep the other direction open.
        stream.write_all(b"answer to ").await.unwrap();
        stream.write_all(&request).await.unwrap();
    });
    let answer = exchange(plane.bound()["late"], b"question").await;
    assert_eq!(answer, b"answer to question");
    server.await.unwrap();
}

#[tokio::test]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let idle = Duration::from_millis(200);
    let mut snapshot = Snapshot::default();
    add_cluster(&mut snapshot, "echo", tagged_echo("echo|").await);
    insert(
        &mut snapshot,
        listener(
            "idle",
            "0.0.0.0:9000",
            true,
            tcp_chain("echo", FilterChainMatch::default(), Some(idle)),
        ),
    );
    let (_store, plane) = start(snapshot, OriginalDst::Socket, &["idle"]).await;
    let mut stream = TcpStream::connect(plane.bound()["idle"]).await.unwrap();
    stream.write_all(b"x").await.unwrap();
    assert_eq!(read_exactly(&mut stream, 6).await, b"echo|x");
    let last_traffic = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"");
    assert!(
        last_traffic.elapsed() >= idle,
        "closed after {:?}",
        last_traffic.elapsed()
    );
}

#[tokio::test]
async fn a_failed_upstream_connect_closes_the_downstream_and_logs_uf() {
    let dead = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let mut snapshot = Snapshot::default();
    add_cluster(&mut snapshot, "dead", dead);
    insert(
        &mut snapshot,
        listener(
            "dead",
            "0.0.0.0:9000",
            true,
            tcp_chain("dead", FilterChainMatch::default(), None),
        ),
    );
    let (_store, plane, mut logs) = start_logged(snapshot, OriginalDst::Socket, &["dead"]).await;
    let address = plane.bound()["dead"];
    assert_eq!(exchange(address, b"").await, b"");
    let log = logs.next().await;
    assert_eq!(log["response_flags"], "UF");
    assert_eq!(log["upstream_cluster"], "dead");
    assert_eq!(log["upstream_host"], dead.to_string());
    assert_eq!(log["protocol"], serde_json::Value::Null);
    assert_eq!(log["response_code"], serde_json::Value::Null);
    assert_eq!(log["bytes_sent"], 0);
    assert_eq!(
        log["downstream_local_address"],
        format!("127.0.0.1:{}", address.port())
    );
}

#[tokio::test]
async fn server_first_ports_are_not_sniffed() {
    let mut snapshot = Snapshot::default();
    let mut outbound = virtual_outbound("passthrough");
    // Sniffing would wait this long for a client that waits for the server's greeting.
    outbound.inspect_protocols = true;
    outbound.detection_timeout = Duration::from_secs(600);
    insert(&mut snapshot, outbound);
    add_cluster(
        &mut snapshot,
        "passthrough",
        tagged_echo("mysql greeting|").await,
    );
    let captured = OriginalDst::Fixed("198.19.0.9:3306".parse().unwrap());
    let (_store, plane) = start(snapshot, captured, &["virtualOutbound"]).await;
    let mut stream = TcpStream::connect(plane.bound()["virtualOutbound"])
        .await
        .unwrap();
    assert_eq!(read_exactly(&mut stream, 15).await, b"mysql greeting|");
}
