//! Connection lifecycle and explicit proxy mode.

use std::{sync::Arc, time::Duration};

use http::{Method, Request, StatusCode};
use mesh_common::path::FieldPath;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::Notify,
};

use super::support::*;
use crate::{
    config::{FilterChain, FilterChainMatch, ListenerConfig, NetworkFilter, Snapshot, TcpProxy},
    http::{HttpHandler, body},
    route::Clusters,
};

/// An upstream that answers "done" once `release` is notified.
async fn held_upstream(release: Arc<Notify>) -> Upstream {
    Upstream::start(move |_| {
        let release = Arc::clone(&release);
        async move {
            release.notified().await;
            text(200, "done")
        }
    })
    .await
}

#[tokio::test]
async fn shutdown_finishes_the_in_flight_http1_request_then_closes() {
    let release = Arc::new(Notify::new());
    let mut upstream = held_upstream(Arc::clone(&release)).await;
    let proxy = Proxy::h1(snapshot(&[("a", &[upstream.addr])]), &to_cluster("a")).await;
    let (mut client, conn) = proxy.h1_connection().await;
    let response = tokio::spawn(client.send_request(get("shop", "/")));
    upstream.next().await;
    proxy.shutdown.send(true).unwrap();
    release.notify_one();
    let response = within(response).await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, "done");
    // The proxy closes the connection after the response.
    within(conn).await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_finishes_the_in_flight_http2_stream_then_closes() {
    let release = Arc::new(Notify::new());
    let mut upstream = held_upstream(Arc::clone(&release)).await;
    let proxy = Proxy::h2(snapshot(&[("a", &[upstream.addr])]), &to_cluster("a")).await;
    let (mut client, conn) = proxy.h2_connection().await;
    let response = tokio::spawn(client.send_request(h2_get("http://shop/")));
    upstream.next().await;
    proxy.shutdown.send(true).unwrap();
    release.notify_one();
    let response = within(response).await.unwrap().unwrap();
    assert_eq!(text_of(response).await, "done");
    within(conn).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_client_that_leaves_mid_response_is_logged_dc() {
    let upstream = Upstream::start(|_| async {
        let (chunks, body) = channel_body();
        tokio::spawn(async move {
            let _ = chunks.send(bytes::Bytes::from_static(b"first")).await;
            // Hold the body open; the client leaves before it ends.
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(chunks);
        });
        let mut response = text(200, "");
        *response.body_mut() = body;
        response
    })
    .await;
    let mut proxy = Proxy::h1(snapshot(&[("a", &[upstream.addr])]), &to_cluster("a")).await;
    let (mut client, conn) = proxy.h1_connection().await;
    let mut response = within(client.send_request(get("shop", "/"))).await.unwrap();
    let first = within(http_body_util::BodyExt::frame(response.body_mut()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "first");
    conn.abort();
    drop((client, response));
    let log = proxy.log().await;
    assert_eq!(log["response_flags"], "DC");
    assert_eq!(log["bytes_sent"], 5);
}

fn explicit_snapshot(upstream: std::net::SocketAddr) -> Snapshot {
    let mut snapshot = snapshot(&[("a", &[upstream])]);
    let listener = ListenerConfig {
        name: "0.0.0.0_9080".to_owned(),
        address: "0.0.0.0:9080".parse().unwrap(),
        use_original_dst: false,
        original_dst_filter: false,
        bind_to_port: false,
        filter_chains: vec![FilterChain {
            name: "http".to_owned(),
            matcher: FilterChainMatch::default(),
            filter: NetworkFilter::Http(hcm(
                "name: r\nvirtual_hosts: [ { name: v, domains: ['reviews:9080'], routes: [ \
                 { match: { prefix: / }, route: { cluster: a } } ] } ]",
            )),
            tls: None,
        }],
        default_filter_chain: None,
        inspect_protocols: false,
        detection_timeout: Duration::from_secs(1),
        traffic_direction: Default::default(),
    };
    snapshot
        .listeners
        .insert(listener.name.clone(), Arc::new(listener));
    snapshot
}

#[tokio::test]
async fn explicit_proxy_requests_route_by_their_target_port() {
    let mut upstream = Upstream::named("reviews").await;
    let proxy = Proxy::start(
        explicit_snapshot(upstream.addr),
        HttpHandler::Explicit,
        false,
    )
    .await;
    let mut client = proxy.h1_client().await;
    let request = Request::builder()
        .uri("http://reviews:9080/r/1?x=y")
        .header("host", "reviews:9080")
        .body(body::empty())
        .unwrap();
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(text_of(response).await, "reviews");
    let seen = upstream.next().await;
    assert_eq!(seen.uri.to_string(), "/r/1?x=y");
    assert_eq!(seen.headers["host"], "reviews:9080");

    // A port without a listener has no route; Host alone names the target too.
    for host in ["reviews:9081", "reviews"] {
        let response = within(client.send_request(get(host, "/"))).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{host}");
    }
}

/// A TCP server that echoes whatever it reads.
async fn tcp_echo() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn explicit_proxy_connect_tunnels_through_the_target_listener() {
    let echo = tcp_echo().await;
    let mut snapshot = snapshot(&[("echo", &[echo])]);
    let tcp = TcpProxy {
        stat_prefix: "echo".to_owned(),
        clusters: Clusters::single("echo", &FieldPath::root()).unwrap(),
        idle_timeout: None,
        access_log: false,
        max_duration: None,
        sni_cluster: false,
    };
    let listener = ListenerConfig {
        name: format!("0.0.0.0_{}", echo.port()),
        address: std::net::SocketAddr::new([0, 0, 0, 0].into(), echo.port()),
        use_original_dst: false,
        original_dst_filter: false,
        bind_to_port: false,
        filter_chains: vec![FilterChain {
            name: "tcp".to_owned(),
            matcher: FilterChainMatch::default(),
            filter: NetworkFilter::Tcp(Arc::new(tcp)),
            tls: None,
        }],
        default_filter_chain: None,
        inspect_protocols: false,
        detection_timeout: Duration::from_secs(1),
        traffic_direction: Default::default(),
    };
    snapshot
        .listeners
        .insert(listener.name.clone(), Arc::new(listener));
    let proxy = Proxy::start(snapshot, HttpHandler::Explicit, false).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    let connect = format!("CONNECT {echo} HTTP/1.1\r\nhost: {echo}\r\n\r\n");
    stream.write_all(connect.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
        let mut byte = [0u8; 1];
        assert_eq!(within(stream.read(&mut byte)).await.unwrap(), 1);
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    stream.write_all(b"through the tunnel").await.unwrap();
    let mut echoed = [0u8; 18];
    within(stream.read_exact(&mut echoed)).await.unwrap();
    assert_eq!(&echoed, b"through the tunnel");
}

#[tokio::test]
async fn explicit_proxy_connect_needs_a_port() {
    let proxy = Proxy::start(Snapshot::default(), HttpHandler::Explicit, false).await;
    let mut client = proxy.h1_client().await;
    let request = Request::builder()
        .method(Method::CONNECT)
        .uri("reviews")
        .body(body::empty())
        .unwrap();
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
