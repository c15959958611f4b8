//! The listener set following the snapshot: binding, rebinding, keeping established
//! connections across changes, and draining.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serve_support;

use std::time::Duration;

use mesh_proxy::{
    capture::OriginalDst,
    config::{FilterChainMatch, ListenerConfig, Snapshot},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use self::serve_support::*;

fn echo_listener(name: &str, cluster: &str) -> ListenerConfig {
    listener(
        name,
        "0.0.0.0:9000",
        true,
        tcp_chain(cluster, FilterChainMatch::default(), None),
    )
}

async fn echo_snapshot(listeners: &[&str]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    add_cluster(&mut snapshot, "echo", tagged_echo("echo|").await);
    for name in listeners {
        insert(&mut snapshot, echo_listener(name, "echo"));
    }
    snapshot
}

/// A connection through the proxy to the `echo|` upstream, past its greeting.
async fn open_echo(address: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    assert_eq!(read_exactly(&mut stream, 5).await, b"echo|");
    stream
}

async fn echoes(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).await.unwrap();
    assert_eq!(read_exactly(stream, message.len()).await, message);
}

async fn refused(address: std::net::SocketAddr) -> bool {
    TcpStream::connect(address).await.is_err()
}

#[tokio::test]
async fn a_removed_listener_stops_accepting_but_its_connections_carry_on() {
    let (store, plane) = start(
        echo_snapshot(&["a", "b"]).await,
        OriginalDst::Socket,
        &["a", "b"],
    )
    .await;
    let a = plane.bound()["a"];
    let mut established = open_echo(a).await;
    echoes(&mut established, b"before").await;

    store
        .update(|snap| {
            snap.listeners.remove("a");
            Ok::<_, ()>(())
        })
        .unwrap();
    // The bound set is published after the socket is closed.
    mesh_testing::eventually(|| async { (!plane.bound().contains_key("a")).then_some(()) })
        .await
        .unwrap();
    assert_eq!(plane.bound().keys().collect::<Vec<_>>(), ["b"]);
    assert!(refused(a).await);

    echoes(&mut established, b"after").await;
    assert_eq!(exchange(plane.bound()["b"], b"b").await, b"echo|b");
}

#[tokio::test]
async fn an_added_listener_is_bound_and_readiness_waits_for_it() {
    let (store, plane) = start(
        echo_snapshot(&["a"]).await,
        OriginalDst::Socket,
        &["a", "c"],
    )
    .await;
    assert!(plane.is_ready());
    store
        .update(|snap| {
            insert(snap, echo_listener("c", "echo"));
            Ok::<_, ()>(())
        })
        .unwrap();
    // Nothing has run since the update on this single-threaded runtime: "c" is not bound yet.
    assert!(!plane.is_ready());
    tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
    assert!(plane.is_ready());
    let c = plane.bound()["c"];
    assert_eq!(exchange(c, b"new").await, b"echo|new");
}

#[tokio::test]
async fn a_changed_listener_keeps_its_socket_and_applies_to_new_connections() {
    let mut snapshot = echo_snapshot(&["a"]).await;
    add_cluster(&mut snapshot, "v2", tagged_echo("v2|").await);
    let (store, plane) = start(snapshot, OriginalDst::Socket, &["a"]).await;
    let a = plane.bound()["a"];
    let mut established = open_echo(a).await;

    store
        .update(|snap| {
            insert(snap, echo_listener("a", "v2"));
            Ok::<_, ()>(())
        })
        .unwrap();
    tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
    // Same requested address (an ephemeral port): the socket was kept, not rebound.
    assert_eq!(plane.bound()["a"], a);
    assert_eq!(exchange(a, b"new").await, b"v2|new");
    echoes(&mut established, b"old").await;
}

#[tokio::test]
async fn a_listener_that_failed_to_bind_is_retried_at_the_next_change() {
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = blocker.local_addr().unwrap().port();
    let (store, plane) = start_with_ports(echo_snapshot(&["busy"]).await, &[("busy", port)]);
    assert!(plane.bound().is_empty());
    assert!(!plane.is_ready());

    drop(blocker);
    store.update(|_| Ok::<_, ()>(())).unwrap();
    tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
    let busy = plane.bound()["busy"];
    assert_eq!(busy.port(), port);
    assert_eq!(exchange(busy, b"x").await, b"echo|x");
}

#[tokio::test]
async fn drain_closes_the_listeners_and_waits_for_open_connections() {
    let (_store, plane) = start(echo_snapshot(&["a"]).await, OriginalDst::Socket, &["a"]).await;
    let a = plane.bound()["a"];
    let mut established = open_echo(a).await;
    assert_eq!(plane.open_connections(), 1);

    let drain = tokio::spawn(plane.drain(Duration::from_secs(60)));
    mesh_testing::eventually(|| async { refused(a).await.then_some(()) })
        .await
        .unwrap();
    assert!(!drain.is_finished());
    echoes(&mut established, b"still here").await;

    established.shutdown().await.unwrap();
    let mut rest = Vec::new();
    established.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"");
    tokio::time::timeout(PATIENCE, drain)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn drain_closes_connections_that_outlive_the_grace_period() {
    let (_store, plane) = start(echo_snapshot(&["a"]).await, OriginalDst::Socket, &["a"]).await;
    let mut established = open_echo(plane.bound()["a"]).await;
    tokio::time::timeout(PATIENCE, plane.drain(Duration::from_millis(100)))
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, established.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"");
}

#[tokio::test]
async fn dropping_the_data_plane_stops_accepting_and_keeps_connections() {
    let (_store, plane) = start(echo_snapshot(&["a"]).await, OriginalDst::Socket, &["a"]).await;
    let a = plane.bound()["a"];
    let mut established = open_echo(a).await;
    drop(plane);
    mesh_testing::eventually(|| async { refused(a).await.then_some(()) })
        .await
        .unwrap();
    echoes(&mut established, b"still served").await;
}
