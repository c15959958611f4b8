//! `/clusters` on a running data plane: a two-endpoint cluster with one endpoint ejected, its
//! connection counts following a real pooled connection until the upstream closes it; and each
//! EDS health status shown as Envoy shows it.

use std::{convert::Infallible, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use mesh_testing::Patience;
use pretty_assertions::assert_eq;
use serde_json::json;
use tokio::net::TcpListener;

use super::{
    call, expect_answer, node,
    plane::{PATIENCE, backend, get, h1_client, http_listener, snapshot, start_plane},
    start,
};
use crate::{
    access_log::AccessLog,
    admin::AdminState,
    balance::Outcome,
    config::ConfigStore,
    http::HttpContext,
    stats::{Exporter, Stats, Telemetry},
    upstream::select_endpoint,
};

mod health;

/// An HTTP/1.1 upstream answering `ok`; on `/close` it also closes the connection.
async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(|request: Request<Incoming>| async move {
                let mut response = Response::new(Full::new(Bytes::from("ok")));
                if request.uri().path() == "/close" {
                    response
                        .headers_mut()
                        .insert("connection", "close".parse().unwrap());
                }
                Ok::<_, Infallible>(response)
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    address
}

fn cluster(a: SocketAddr, b: SocketAddr) -> Cluster {
    backend(
        &[a, b],
        "circuit_breakers: { thresholds: [ { max_connections: 7 } ] }\n\
         outlier_detection: { consecutive_5xx: 1, max_ejection_percent: 50, enforcing_success_rate: 0 }\n",
    )
}

/// The `/clusters` text of `backend` with `a` holding `a_active` of its one connection.
fn expected_text(a: SocketAddr, b: SocketAddr, a_active: u8) -> String {
    format!(
        "backend::observability_name::backend\n\
         backend::outlier::success_rate_average::-1\n\
         backend::outlier::success_rate_ejection_threshold::-1\n\
         backend::outlier::local_origin_success_rate_average::-1\n\
         backend::outlier::local_origin_success_rate_ejection_threshold::-1\n\
         backend::default_priority::max_connections::7\n\
         backend::default_priority::max_pending_requests::1024\n\
         backend::default_priority::max_requests::1024\n\
         backend::default_priority::max_retries::3\n\
         backend::added_via_api::false\n\
         backend::{a}::cx_active::{a_active}\n\
         backend::{a}::cx_connect_fail::0\n\
         backend::{a}::cx_total::1\n\
         backend::{a}::hostname::\n\
         backend::{a}::health_flags::healthy\n\
         backend::{a}::weight::1\n\
         backend::{a}::priority::0\n\
         backend::{b}::cx_active::0\n\
         backend::{b}::cx_connect_fail::0\n\
         backend::{b}::cx_total::0\n\
         backend::{b}::hostname::\n\
         backend::{b}::health_flags::/failed_outlier_check\n\
         backend::{b}::weight::1\n\
         backend::{b}::priority::0\n"
    )
}

#[tokio::test]
async fn clusters_show_connections_and_the_ejected_endpoint() {
    let (a, b) = (upstream().await, upstream().await);
    let store = Arc::new(ConfigStore::new(snapshot(
        cluster(a, b),
        &[http_listener("l", "")],
    )));
    // The detector learns the endpoints with a first pick; one failure then ejects `b`.
    let current = store.load();
    drop(select_endpoint(&current, "backend", None, &mut rand::rng()).unwrap());
    let outlier = current.clusters["backend"].outlier.as_ref().unwrap();
    outlier.report(b, Outcome::ConnectFailure, &mut rand::rng());
    assert!(outlier.is_ejected(b));

    let stats = Arc::new(Stats::anonymous());
    let telemetry = Telemetry::new(AccessLog::channel(16).0, Arc::clone(&stats));
    let http = Arc::new(HttpContext::with_telemetry(Arc::clone(&store), telemetry));
    let plane = start_plane(&store, http, &["l"]).await;
    let exporter = Exporter::new(Arc::clone(&stats));
    let admin = start(
        AdminState::new(node())
            .with_clusters(Arc::clone(&store), Arc::clone(stats.upstream_connections())),
    )
    .await;

    // One request: `a` takes it, and the pool keeps its connection open.
    let mut client = h1_client(plane.bound()["l"]).await;
    let response = client.send_request(get("/")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "ok"
    );

    assert_eq!(
        call(admin, "GET", "/clusters").await,
        (200, expected_text(a, b, 1))
    );
    let (status, body) = call(admin, "GET", "/clusters?format=json").await;
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        json!({ "cluster_statuses": [{
            "name": "backend",
            "circuit_breakers": { "thresholds": [{
                "max_connections": 7,
                "max_pending_requests": 1024,
                "max_requests": 1024,
                "max_retries": 3,
            }] },
            "observability_name": "backend",
            "host_statuses": [
                {
                    "address": { "socket_address": { "address": "127.0.0.1", "port_value": a.port() } },
                    "stats": [
                        { "name": "cx_connect_fail" },
                        { "name": "cx_total", "value": "1" },
                        { "type": "GAUGE", "name": "cx_active", "value": "1" },
                    ],
                    "health_status": { "eds_health_status": "HEALTHY" },
                    "weight": 1,
                },
                {
                    "address": { "socket_address": { "address": "127.0.0.1", "port_value": b.port() } },
                    "stats": [
                        { "name": "cx_connect_fail" },
                        { "name": "cx_total" },
                        { "type": "GAUGE", "name": "cx_active" },
                    ],
                    "health_status": { "failed_outlier_check": true, "eds_health_status": "HEALTHY" },
                    "weight": 1,
                },
            ],
        }] })
    );
    let active = "mesh_proxy_upstream_connections_active{cluster=\"backend\"}";
    assert!(exporter.render().contains(&format!("\n{active} 1\n")));

    // The upstream closes the pooled connection after this response: the counts follow.
    let response = client.send_request(get("/close")).await.unwrap();
    assert_eq!(response.status(), 200);
    Patience::new(PATIENCE)
        .eventually(|| async {
            let text = call(admin, "GET", "/clusters").await.1;
            (text == expected_text(a, b, 0)).then_some(()).ok_or(text)
        })
        .await
        .unwrap();
    let rendered = exporter.render();
    for line in [
        format!("{active} 0"),
        "mesh_proxy_upstream_connections_total{cluster=\"backend\"} 1".to_owned(),
        "mesh_proxy_upstream_connect_failures_total{cluster=\"backend\"} 0".to_owned(),
    ] {
        assert!(
            rendered.lines().any(|l| l == line),
            "{line}\nnot in\n{rendered}"
        );
    }
    expect_answer(
        admin,
        "GET",
        "/clusters?format=yaml",
        400,
        "format \"yaml\" is neither json nor text\n",
    )
    .await;
    let unwired = start(AdminState::new(node())).await;
    expect_answer(unwired, "GET", "/clusters", 501, "clusters are not wired\n").await;
}
