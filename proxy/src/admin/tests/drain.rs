//! `/drain_listeners` wired to a running data plane: new connections are refused, the request
//! in flight finishes, and `/ready` reports the drain; with `?inboundonly`, only for the
//! `INBOUND` listeners.

use std::{collections::HashMap, convert::Infallible, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use envoy_types::pb::envoy::config::{cluster::v3::Cluster, listener::v3::Listener};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use mesh_testing::Patience;
use mesh_xds::json::from_yaml;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Notify, mpsc},
};

use super::{call, node, start};
use crate::{
    access_log::AccessLog,
    admin::AdminState,
    config::{ConfigStore, DnsAnswers, Snapshot, apply_clusters, apply_listeners},
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
};

const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// An upstream that reports each request and answers `held` only once `release` is notified.
async fn held_upstream(seen: mpsc::UnboundedSender<()>, release: Arc<Notify>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, release) = (seen.clone(), Arc::clone(&release));
            let service = service_fn(move |_: Request<Incoming>| {
                let (seen, release) = (seen.clone(), Arc::clone(&release));
                async move {
                    let released = release.notified();
                    let _ = seen.send(());
                    released.await;
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("held"))))
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    address
}

/// An HTTP listener named `name` routing everything to `backend`, with `extra` fields.
fn listener(name: &str, extra: &str) -> Listener {
    from_yaml(&format!(
        r#"
name: {name}
address: {{ socket_address: {{ address: 127.0.0.1, port_value: 9080 }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          route_config: {{ name: r, virtual_hosts: [ {{ name: v, domains: ["*"], routes: [ {{ match: {{ prefix: / }}, route: {{ cluster: backend }} }} ] }} ] }}
          http_filters: [ {{ name: envoy.filters.http.router }} ]
{extra}
"#
    ))
    .unwrap()
}

fn snapshot(upstream: SocketAddr) -> Snapshot {
    snapshot_with(upstream, vec![listener("l", "")])
}

fn snapshot_with(upstream: SocketAddr, listeners: Vec<Listener>) -> Snapshot {
    let cluster: Cluster = from_yaml(&format!(
        "name: backend\ntype: STATIC\nconnect_timeout: 1s\nload_assignment: {{ cluster_name: backend, \
         endpoints: [ {{ lb_endpoints: [ {{ endpoint: {{ address: {{ socket_address: \
         {{ address: 127.0.0.1, port_value: {} }} }} }} }} ] }} ] }}",
        upstream.port()
    ))
    .unwrap();
    let mut snapshot = Snapshot::default();
    apply_clusters(&mut snapshot, &[cluster], &[], &DnsAnswers::default()).unwrap();
    apply_listeners(&mut snapshot, &listeners, &[]).unwrap();
    snapshot
}

#[tokio::test]
async fn drain_listeners_refuses_new_connections_and_lets_requests_in_flight_finish() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let upstream = held_upstream(seen_tx, Arc::clone(&release)).await;
    let store = Arc::new(ConfigStore::new(snapshot(upstream)));
    let http = Arc::new(HttpContext::with_access_log(
        Arc::clone(&store),
        AccessLog::channel(16).0,
    ));
    let plane = Arc::new(DataPlane::start(
        store,
        http,
        ServeOptions {
            port_overrides: HashMap::from([("l".to_owned(), 0)]),
            ..ServeOptions::default()
        },
    ));
    tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
    let address = plane.bound()["l"];
    let admin = start(
        AdminState::new(node())
            .with_ready({
                let plane = Arc::clone(&plane);
                move || plane.is_ready()
            })
            .with_draining({
                let plane = Arc::clone(&plane);
                move || plane.is_draining()
            })
            .with_drain({
                let plane = Arc::clone(&plane);
                move || plane.stop_listening()
            }),
    )
    .await;
    assert_eq!(
        call(admin, "GET", "/ready").await,
        (200, "LIVE\n".to_owned())
    );

    // A request in flight when the drain starts.
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut client, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = Request::builder()
        .uri("/")
        .header("host", "shop")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let in_flight = tokio::spawn(client.send_request(request));
    tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .unwrap()
        .unwrap();

    assert!(!plane.is_draining());
    assert_eq!(
        call(admin, "POST", "/drain_listeners?graceful").await,
        (200, "OK\n".to_owned())
    );
    assert_eq!(
        call(admin, "GET", "/ready").await,
        (503, "DRAINING\n".to_owned())
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&call(admin, "GET", "/server_info").await.1)
            .unwrap()["state"],
        "DRAINING"
    );
    Patience::new(PATIENCE)
        .eventually(|| async {
            match TcpStream::connect(address).await {
                Err(refused) => Ok(refused),
                Ok(_) => Err("the listener still accepts"),
            }
        })
        .await
        .unwrap();

    release.notify_one();
    let response = tokio::time::timeout(PATIENCE, in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    // HTTP/1.1 connections close after their last response once draining.
    assert_eq!(response.headers()["connection"], "close");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "held");
}

/// Sends `GET /` on a new HTTP/1.1 connection to `address`; the response comes when the
/// upstream is released.
async fn send(address: SocketAddr) -> tokio::task::JoinHandle<hyper::Result<Response<Incoming>>> {
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut client, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = Request::builder()
        .uri("/")
        .header("host", "shop")
        .body(Empty::<Bytes>::new())
        .unwrap();
    tokio::spawn(client.send_request(request))
}

#[tokio::test]
async fn inboundonly_drains_the_inbound_listeners_and_leaves_the_outbound_ones_serving() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let upstream = held_upstream(seen_tx, Arc::clone(&release)).await;
    let listeners = vec![
        listener("in", "traffic_direction: INBOUND"),
        listener("out", "traffic_direction: OUTBOUND"),
    ];
    let store = Arc::new(ConfigStore::new(snapshot_with(upstream, listeners)));
    let http = Arc::new(HttpContext::with_access_log(
        Arc::clone(&store),
        AccessLog::channel(16).0,
    ));
    let plane = Arc::new(DataPlane::start(
        store,
        http,
        ServeOptions {
            port_overrides: HashMap::from([("in".to_owned(), 0), ("out".to_owned(), 0)]),
            ..ServeOptions::default()
        },
    ));
    tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
    let (inbound, outbound) = (plane.bound()["in"], plane.bound()["out"]);
    let admin = start(
        AdminState::new(node())
            .with_draining({
                let plane = Arc::clone(&plane);
                move || plane.is_draining()
            })
            .with_drain_inbound({
                let plane = Arc::clone(&plane);
                move || plane.stop_listening_inbound()
            }),
    )
    .await;

    let in_flight = send(inbound).await;
    tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        call(admin, "POST", "/drain_listeners?inboundonly&graceful").await,
        (200, "OK\n".to_owned())
    );
    assert_eq!(
        call(admin, "GET", "/ready").await,
        (503, "DRAINING\n".to_owned())
    );
    // Only the plain drain is not wired here.
    assert_eq!(
        call(admin, "POST", "/drain_listeners").await,
        (501, "draining is not wired\n".to_owned())
    );
    Patience::new(PATIENCE)
        .eventually(|| async {
            match TcpStream::connect(inbound).await {
                Err(refused) => Ok(refused),
                Ok(_) => Err("the inbound listener still accepts"),
            }
        })
        .await
        .unwrap();
    assert_eq!(
        plane.bound().keys().collect::<Vec<_>>(),
        [&"out".to_owned()]
    );

    // The inbound request in flight finishes, and its connection closes after it.
    release.notify_one();
    let response = tokio::time::timeout(PATIENCE, in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["connection"], "close");

    // The outbound listener accepts and serves as before, keeping its connections open.
    let outbound_request = send(outbound).await;
    tokio::time::timeout(PATIENCE, seen.recv())
        .await
        .unwrap()
        .unwrap();
    release.notify_one();
    let response = tokio::time::timeout(PATIENCE, outbound_request)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("connection"), None);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "held");
}

#[test]
fn traffic_direction_is_kept_and_unknown_values_are_refused() {
    use crate::config::{TrafficDirection, compile_listener};
    let direction =
        |extra: &str| compile_listener(&listener("l", extra)).map(|l| l.traffic_direction);
    assert_eq!(direction(""), Ok(TrafficDirection::Unspecified));
    assert_eq!(
        direction("traffic_direction: INBOUND"),
        Ok(TrafficDirection::Inbound)
    );
    assert_eq!(
        direction("traffic_direction: OUTBOUND"),
        Ok(TrafficDirection::Outbound)
    );
    let mut unknown = listener("l", "");
    unknown.traffic_direction = 7;
    assert_eq!(
        compile_listener(&unknown).unwrap_err().to_string(),
        "Listener \"l\": traffic_direction: 7 is not a traffic direction"
    );
}
