//! `/drain_listeners` wired to a running data plane: new connections are refused, the request
//! in flight finishes, and `/ready` reports the drain; with `?inboundonly`, only for the
//! `INBOUND` listeners.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use envoy_types::pb::envoy::config::listener::v3::Listener;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use mesh_testing::Patience;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Notify, mpsc},
    task::JoinHandle,
};

use super::{
    call, expect_answer, node,
    plane::{PATIENCE, backend, get, h1_client, http_listener, snapshot, start_plane},
    start,
};
use crate::{
    access_log::AccessLog, admin::AdminState, config::ConfigStore, http::HttpContext,
    serve::DataPlane,
};

/// A data plane whose listeners route to an upstream that holds every request until released.
struct Held {
    plane: Arc<DataPlane>,
    /// One message per request the upstream received.
    seen: mpsc::UnboundedReceiver<()>,
    release: Arc<Notify>,
}

// === impl Held ===

impl Held {
    /// Serves `listeners`, each on an ephemeral port.
    async fn start(listeners: &[Listener]) -> Self {
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let release = Arc::new(Notify::new());
        let upstream = held_upstream(seen_tx, Arc::clone(&release)).await;
        let store = Arc::new(ConfigStore::new(snapshot(
            backend(&[upstream], ""),
            listeners,
        )));
        let http = Arc::new(HttpContext::with_access_log(
            Arc::clone(&store),
            AccessLog::channel(16).0,
        ));
        let names: Vec<&str> = listeners.iter().map(|l| l.name.as_str()).collect();
        let plane = Arc::new(start_plane(&store, http, &names).await);
        Self {
            plane,
            seen,
            release,
        }
    }

    /// Where the listener `name` accepts.
    fn address(&self, name: &str) -> SocketAddr {
        self.plane.bound()[name]
    }

    /// Sends `GET /` on a new connection to `address`, and waits until the upstream holds it;
    /// the response comes once [`Held::release_one`] lets it go.
    async fn send(&mut self, address: SocketAddr) -> JoinHandle<hyper::Result<Response<Incoming>>> {
        let mut client = h1_client(address).await;
        let in_flight = tokio::spawn(client.send_request(get("/")));
        tokio::time::timeout(PATIENCE, self.seen.recv())
            .await
            .unwrap()
            .unwrap();
        in_flight
    }

    /// Lets one held request be answered.
    fn release_one(&self) {
        self.release.notify_one();
    }

    /// `plane_fn` of the data plane, as an admin hook.
    fn hook<T: 'static>(
        &self,
        plane_fn: fn(&DataPlane) -> T,
    ) -> impl Fn() -> T + Send + Sync + use<T> {
        let plane = Arc::clone(&self.plane);
        move || plane_fn(&plane)
    }
}

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

/// The response of a request sent with [`Held::send`], once it comes.
async fn answer(in_flight: JoinHandle<hyper::Result<Response<Incoming>>>) -> Response<Incoming> {
    tokio::time::timeout(PATIENCE, in_flight)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

/// Waits until `address` refuses connections.
async fn until_refused(address: SocketAddr) {
    Patience::new(PATIENCE)
        .eventually(|| async {
            match TcpStream::connect(address).await {
                Err(refused) => Ok(refused),
                Ok(_) => Err("the listener still accepts"),
            }
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn drain_listeners_refuses_new_connections_and_lets_requests_in_flight_finish() {
    let mut held = Held::start(&[http_listener("l", "")]).await;
    let address = held.address("l");
    let admin = start(
        AdminState::new(node())
            .with_ready(held.hook(DataPlane::is_ready))
            .with_draining(held.hook(DataPlane::is_draining))
            .with_drain(held.hook(DataPlane::stop_listening)),
    )
    .await;
    expect_answer(admin, "GET", "/ready", 200, "LIVE\n").await;

    // A request in flight when the drain starts.
    let in_flight = held.send(address).await;

    assert!(!held.plane.is_draining());
    expect_answer(admin, "POST", "/drain_listeners?graceful", 200, "OK\n").await;
    expect_answer(admin, "GET", "/ready", 503, "DRAINING\n").await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&call(admin, "GET", "/server_info").await.1)
            .unwrap()["state"],
        "DRAINING"
    );
    until_refused(address).await;

    held.release_one();
    let response = answer(in_flight).await;
    assert_eq!(response.status(), 200);
    // HTTP/1.1 connections close after their last response once draining.
    assert_eq!(response.headers()["connection"], "close");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "held");
}

#[tokio::test]
async fn inboundonly_drains_the_inbound_listeners_and_leaves_the_outbound_ones_serving() {
    let mut held = Held::start(&[
        http_listener("in", "traffic_direction: INBOUND"),
        http_listener("out", "traffic_direction: OUTBOUND"),
    ])
    .await;
    let (inbound, outbound) = (held.address("in"), held.address("out"));
    let admin = start(
        AdminState::new(node())
            .with_draining(held.hook(DataPlane::is_draining))
            .with_drain_inbound(held.hook(DataPlane::stop_listening_inbound)),
    )
    .await;

    let in_flight = held.send(inbound).await;
    expect_answer(
        admin,
        "POST",
        "/drain_listeners?inboundonly&graceful",
        200,
        "OK\n",
    )
    .await;
    expect_answer(admin, "GET", "/ready", 503, "DRAINING\n").await;
    // Only the plain drain is not wired here.
    expect_answer(
        admin,
        "POST",
        "/drain_listeners",
        501,
        "draining is not wired\n",
    )
    .await;
    until_refused(inbound).await;
    assert_eq!(
        held.plane.bound().keys().collect::<Vec<_>>(),
        [&"out".to_owned()]
    );

    // The inbound request in flight finishes, and its connection closes after it.
    held.release_one();
    let response = answer(in_flight).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["connection"], "close");

    // The outbound listener accepts and serves as before, keeping its connections open.
    let outbound_request = held.send(outbound).await;
    held.release_one();
    let response = answer(outbound_request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("connection"), None);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "held");
}

#[test]
fn traffic_direction_is_kept_and_unknown_values_are_refused() {
    use crate::config::{TrafficDirection, compile_listener};
    let direction =
        |extra: &str| compile_listener(&http_listener("l", extra)).map(|l| l.traffic_direction);
    assert_eq!(direction(""), Ok(TrafficDirection::Unspecified));
    assert_eq!(
        direction("traffic_direction: INBOUND"),
        Ok(TrafficDirection::Inbound)
    );
    assert_eq!(
        direction("traffic_direction: OUTBOUND"),
        Ok(TrafficDirection::Outbound)
    );
    let mut unknown = http_listener("l", "");
    unknown.traffic_direction = 7;
    assert_eq!(
        compile_listener(&unknown).unwrap_err().to_string(),
        "Listener \"l\": traffic_direction: 7 is not a traffic direction"
    );
}
