//! Connections handed to the HTTP connection manager: HTTP/1.1 and h2c on an HTTP chain, the
//! capture listener addressed directly as an explicit proxy (requests and CONNECT tunnels), and
//! graceful close at drain.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serve_support;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use envoy_types::pb::envoy::config::{listener::v3::Listener, route::v3::RouteConfiguration};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_proxy::{
    capture::OriginalDst,
    config::{
        FilterChain, FilterChainMatch, HttpConnectionManager, ListenerConfig, NetworkFilter,
        RouteSource, Snapshot, apply_listeners,
    },
    route::RouteTable,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use self::serve_support::*;

/// An HTTP chain whose every request is answered `200 <body>`.
fn direct_chain(body: &str) -> FilterChain {
    let yaml = format!(
        r#"
name: direct
virtual_hosts:
- name: all
  domains: ["*"]
  routes:
  - match: {{ prefix: "/" }}
    direct_response: {{ status: 200, body: {{ inline_string: "{body}" }} }}
"#
    );
    let config: RouteConfiguration = mesh_xds::json::from_yaml(&yaml).unwrap();
    FilterChain {
        name: "http".to_owned(),
        matcher: FilterChainMatch::default(),
        filter: NetworkFilter::Http(Arc::new(HttpConnectionManager {
            stat_prefix: "http".to_owned(),
            codec: Default::default(),
            routes: RouteSource::Inline(Arc::new(RouteTable::compile(&config).unwrap())),
            access_log: false,
            generate_request_id: true,
            use_remote_address: false,
            stream_idle_timeout: None,
            fault: None,
            cors: false,
            tracing: None,
            http2_max_concurrent_streams: None,
            client_cert: Default::default(),
        })),
        tls: None,
    }
}

fn http_snapshot(body: &str) -> Snapshot {
    let mut snapshot = Snapshot::default();
    insert(
        &mut snapshot,
        listener("web", "0.0.0.0:8080", true, direct_chain(body)),
    );
    snapshot
}

/// `virtualOutbound`, addressed directly, with `0.0.0.0_9080` (HTTP) and `198.19.0.7_7000`
/// (TCP to a tagged echo) behind it.
async fn explicit_snapshot() -> Snapshot {
    let mut snapshot = Snapshot::default();
    let mut outbound = virtual_outbound("passthrough");
    outbound.detection_timeout = Duration::from_millis(100);
    insert(&mut snapshot, outbound);
    add_cluster(
        &mut snapshot,
        "passthrough",
        tagged_echo("passthrough|").await,
    );
    insert(
        &mut snapshot,
        ListenerConfig {
            filter_chains: vec![direct_chain("explicit 9080")],
            ..listener(
                "0.0.0.0_9080",
                "0.0.0.0:9080",
                false,
                direct_chain("unused"),
            )
        },
    );
    add_cluster(&mut snapshot, "tunnelled", tagged_echo("tunnel|").await);
    insert(
        &mut snapshot,
        listener(
            "198.19.0.7_7000",
            "198.19.0.7:7000",
            false,
            tcp_chain("tunnelled", FilterChainMatch::default(), None),
        ),
    );
    snapshot
}

#[tokio::test]
async fn http1_on_an_http_chain_reaches_the_connection_manager() {
    let (_store, plane) = start(http_snapshot("hello h1"), OriginalDst::Socket, &["web"]).await;
    let response = exchange_text(
        plane.bound()["web"],
        "GET / HTTP/1.1\r\nhost: web\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nhello h1"), "{response}");
}

#[tokio::test]
async fn h2c_prior_knowledge_is_detected_and_served_as_http2() {
    let (_store, plane) = start(http_snapshot("hello h2"), OriginalDst::Socket, &["web"]).await;
    let stream = TcpStream::connect(plane.bound()["web"]).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get("http://web/")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "hello h2");
}

#[tokio::test]
async fn the_capture_listener_addressed_directly_is_an_explicit_http_proxy() {
    // Without iptables, the original destination of a loopback connection is unknown or the
    // listener itself: either way the client addressed the proxy.
    let (_store, plane) = start(
        explicit_snapshot().await,
        OriginalDst::Socket,
        &["virtualOutbound"],
    )
    .await;
    let proxy = plane.bound()["virtualOutbound"];
    let response = exchange_text(
        proxy,
        "GET http://198.19.0.5:9080/ HTTP/1.1\r\nhost: 198.19.0.5:9080\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nexplicit 9080"), "{response}");

    // Bytes that are not HTTP have nowhere to go.
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream.write_all(b"\x00\x01 not http\r\n").await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"");
}

/// Port 9090's listener: a fault filter that aborts every request with 418, then the router
/// to the passthrough cluster.
const FAULTY_9090: &str = r#"
name: 0.0.0.0_9090
address: {socket_address: {address: 0.0.0.0, port_value: 9090}}
bind_to_port: false
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: faulty
      route_config:
        name: faulty
        virtual_hosts:
        - name: all
          domains: ["*"]
          routes:
          - match: {prefix: /}
            route: {cluster: passthrough}
      http_filters:
      - name: envoy.filters.http.fault
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
          abort: {http_status: 418, percentage: {numerator: 100, denominator: HUNDRED}}
      - name: envoy.filters.http.router
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#;

#[tokio::test]
async fn an_explicit_proxy_request_passes_its_port_s_http_filters() {
    let mut snapshot = explicit_snapshot().await;
    let faulty: Listener = mesh_xds::json::from_yaml(FAULTY_9090).unwrap();
    apply_listeners(&mut snapshot, &[faulty], &[]).unwrap();
    let (_store, plane) = start(snapshot, OriginalDst::Socket, &["virtualOutbound"]).await;
    let response = exchange_text(
        plane.bound()["virtualOutbound"],
        "GET http://198.19.0.5:9090/ HTTP/1.1\r\nhost: 198.19.0.5:9090\r\nconnection: close\r\n\r\n",
    )
    .await;
    // The fault filter answered, as it would for a captured connection to port 9090.
    assert!(response.starts_with("HTTP/1.1 418 "), "{response}");
}

#[tokio::test]
async fn a_connect_tunnel_is_served_like_a_captured_connection() {
    let (_store, plane) = start(
        explicit_snapshot().await,
        OriginalDst::Socket,
        &["virtualOutbound"],
    )
    .await;
    let mut stream = TcpStream::connect(plane.bound()["virtualOutbound"])
        .await
        .unwrap();
    stream
        .write_all(b"CONNECT 198.19.0.7:7000 HTTP/1.1\r\nhost: 198.19.0.7:7000\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.extend(read_exactly(&mut stream, 1).await);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    // Through `198.19.0.7_7000`'s TCP chain to its upstream.
    stream.write_all(b"hi").await.unwrap();
    assert_eq!(read_exactly(&mut stream, 9).await, b"tunnel|hi");
}

#[tokio::test]
async fn drain_closes_idle_http_connections_gracefully() {
    let (_store, plane) = start(http_snapshot("kept alive"), OriginalDst::Socket, &["web"]).await;
    let mut stream = TcpStream::connect(plane.bound()["web"]).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: web\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    while !response.ends_with(b"kept alive") {
        response.extend(read_exactly(&mut stream, 1).await);
    }
    assert_eq!(plane.open_connections(), 1);
    // The grace period is far longer than the test's patience: only a graceful close by the
    // connection manager lets drain return in time.
    tokio::time::timeout(PATIENCE, plane.drain(Duration::from_secs(60)))
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, b"");
}

#[tokio::test]
async fn sniffed_http_and_opaque_bytes_take_their_own_chains() {
    let mut snapshot = Snapshot::default();
    insert(&mut snapshot, virtual_outbound("passthrough"));
    add_cluster(
        &mut snapshot,
        "passthrough",
        tagged_echo("passthrough|").await,
    );
    add_cluster(&mut snapshot, "opaque", tagged_echo("opaque|").await);
    let http = FilterChain {
        matcher: FilterChainMatch {
            application_protocols: vec!["http/1.1".to_owned(), "h2c".to_owned()],
            ..FilterChainMatch::default()
        },
        ..direct_chain("sniffed http")
    };
    insert(
        &mut snapshot,
        ListenerConfig {
            filter_chains: vec![http, tcp_chain("opaque", FilterChainMatch::default(), None)],
            ..listener(
                "0.0.0.0_9080",
                "0.0.0.0:9080",
                false,
                direct_chain("unused"),
            )
        },
    );
    let captured = OriginalDst::Fixed("198.19.0.5:9080".parse().unwrap());
    let (_store, plane) = start(snapshot, captured, &["virtualOutbound"]).await;
    let proxy = plane.bound()["virtualOutbound"];
    let response = exchange_text(
        proxy,
        "GET / HTTP/1.1\r\nhost: 198.19.0.5:9080\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nsniffed http"), "{response}");
    // The bytes detection read are replayed to the upstream.
    assert_eq!(exchange_text(proxy, "\x01ping").await, "opaque|\x01ping");
}
