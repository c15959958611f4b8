use std::{
    net::SocketAddr,
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use envoy_types::pb::envoy::config::listener::v3::Listener;
use mesh_xds::{json::from_yaml, resource::ResourceType};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};

use super::*;
use crate::{
    bootstrap::Bootstrap as Loaded,
    xds_client::{AcceptedResource, ErrorState},
};

const SIDECAR: &str = include_str!("../../../xds/tests/data/bootstrap-sidecar.yaml");

fn node() -> Node {
    Node {
        id: "sidecar~10.0.0.9~a.default~default.svc.cluster.local".to_owned(),
        cluster: "a.default".to_owned(),
        ..Node::default()
    }
}

async fn start(state: AdminState) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(serve(listener, state));
    address
}

/// Listener `l` on port 80, as the tests' xDS state holds it.
fn listener() -> Listener {
    from_yaml("name: l\naddress: { socket_address: { address: 0.0.0.0, port_value: 80 } }").unwrap()
}

/// `listener()` as `/config_dump` shows it.
fn listener_json() -> Value {
    json!({
        "@type": "type.googleapis.com/envoy.config.listener.v3.Listener",
        "name": "l",
        "address": { "socket_address": { "address": "0.0.0.0", "port_value": 80 } },
    })
}

/// xDS state that has accepted `listener()` at version `l1`.
fn xds_with_listener() -> Arc<XdsState> {
    let xds = Arc::new(XdsState::default());
    let accepted = AcceptedResource::new("l1", listener());
    xds.accepted(
        ResourceType::Listener,
        "l1",
        &[("l".to_owned(), accepted)],
        &[],
    );
    xds
}

/// The `configs` of a `/config_dump`, which must answer 200.
async fn config_dump(address: SocketAddr) -> Vec<Value> {
    let (status, body) = call(address, "GET", "/config_dump").await;
    assert_eq!(status, 200);
    let mut dump: Value = serde_json::from_str(&body).unwrap();
    match dump["configs"].take() {
        Value::Array(configs) => configs,
        other => panic!("configs is not an array: {other}"),
    }
}

/// `(status, body)` of one HTTP/1.1 request.
async fn call(address: SocketAddr, method: &str, target: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!(
        "{method} {target} HTTP/1.1\r\nhost: admin\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a full response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

/// Asserts that `method target` answers `status` with `body`.
async fn expect_answer(address: SocketAddr, method: &str, target: &str, status: u16, body: &str) {
    assert_eq!(
        call(address, method, target).await,
        (status, body.to_owned()),
        "{method} {target}"
    );
}

#[tokio::test]
async fn ready_and_live() {
    let ready = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ready);
    let address =
        start(AdminState::new(node()).with_ready(move || flag.load(Ordering::SeqCst))).await;
    expect_answer(address, "GET", "/ready", 503, "INITIALIZING\n").await;
    expect_answer(address, "GET", "/live", 200, "LIVE\n").await;
    ready.store(true, Ordering::SeqCst);
    expect_answer(address, "GET", "/ready", 200, "LIVE\n").await;
    expect_answer(address, "POST", "/ready", 405, "use GET\n").await;
    expect_answer(address, "GET", "/stats", 404, "not found\n").await;
}

#[tokio::test]
async fn server_info() {
    let address = start(AdminState::new(node()).with_ready(|| false)).await;
    let (status, body) = call(address, "GET", "/server_info").await;
    assert_eq!(status, 200);
    let mut info: Value = serde_json::from_str(&body).unwrap();
    let uptime = info["uptime_current_epoch"].as_str().unwrap().to_owned();
    assert!(
        uptime.strip_suffix('s').unwrap().parse::<u64>().is_ok(),
        "{uptime}"
    );
    let info = info.as_object_mut().unwrap();
    info.remove("uptime_current_epoch");
    info.remove("uptime_all_epochs");
    assert_eq!(
        Value::Object(info.clone()),
        json!({
            "version": env!("CARGO_PKG_VERSION"),
            "state": "INITIALIZING",
            "node": { "id": node().id, "cluster": "a.default" },
        })
    );
}

#[tokio::test]
async fn config_dump_is_envoy_shaped() {
    let bootstrap = Loaded::parse(SIDECAR, Path::new("bootstrap.yaml")).unwrap();
    let address = start(
        AdminState::new(node())
            .with_bootstrap(bootstrap.raw)
            .with_xds(xds_with_listener()),
    )
    .await;
    let configs = config_dump(address).await;
    let types: Vec<&str> = configs
        .iter()
        .map(|c| c["@type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
            "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
            "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
            "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
            "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
        ]
    );
    assert_eq!(
        configs[0]["bootstrap"]["node"]["cluster"],
        "reviews.default"
    );
    let static_clusters: Vec<&str> = configs[1]["static_clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cluster"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(static_clusters, ["xds-grpc", "inbound|9080||"]);
    assert_eq!(configs[1]["dynamic_active_clusters"], json!([]));
    let listeners = &configs[3];
    assert_eq!(listeners["version_info"], "l1");
    assert_eq!(
        listeners["static_listeners"][0]["listener"]["name"],
        "virtualInbound"
    );
    assert_eq!(
        listeners["dynamic_listeners"],
        json!([{
            "name": "l",
            "active_state": { "version_info": "l1", "listener": listener_json() },
        }])
    );
    assert_eq!(configs[4]["dynamic_route_configs"], json!([]));
}

#[tokio::test]
async fn config_dump_shows_the_last_nack_as_error_state() {
    let xds = xds_with_listener();
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_795_334_401_042);
    let mut bad_listener = listener();
    bad_listener.enable_mptcp = true;
    let bad_listener = mesh_xds::resource::Resource::from(bad_listener).into_any();
    xds.refused(
        ResourceType::Listener,
        ErrorState {
            version: "l2".to_owned(),
            at,
            details: "Listener \"l\": enable_mptcp: not supported by mesh-proxy".to_owned(),
            failed: Some(("l".to_owned(), bad_listener)),
        },
    );
    // A refusal that names no resource of the response (an undecodable one) has an entry of
    // its own.
    xds.refused(
        ResourceType::Cluster,
        ErrorState {
            version: "c1".to_owned(),
            at,
            details: "resources[0]: malformed".to_owned(),
            failed: None,
        },
    );
    let address = start(AdminState::new(node()).with_xds(xds)).await;
    let configs = config_dump(address).await;
    let mut failed = listener_json();
    failed["enable_mptcp"] = json!(true);
    assert_eq!(
        configs[0]["dynamic_active_clusters"],
        json!([{
            "error_state": {
                "last_update_attempt": "2026-11-22T08:00:01.042Z",
                "details": "resources[0]: malformed",
                "version_info": "c1",
            },
        }])
    );
    assert_eq!(
        configs[2]["dynamic_listeners"],
        json!([{
            "name": "l",
            "active_state": { "version_info": "l1", "listener": listener_json() },
            "error_state": {
                "failed_configuration": failed,
                "last_update_attempt": "2026-11-22T08:00:01.042Z",
                "details": "Listener \"l\": enable_mptcp: not supported by mesh-proxy",
                "version_info": "l2",
            },
        }])
    );
}

#[tokio::test]
async fn operations_call_their_hooks() {
    let (quit_tx, mut quit_rx) = mpsc::channel(1);
    let (level_tx, mut level_rx) = mpsc::unbounded_channel();
    let drained = Arc::new(AtomicBool::new(false));
    let drained_flag = Arc::clone(&drained);
    let address = start(
        AdminState::new(node())
            .with_quit(quit_tx)
            .with_log_level(move |level| {
                if level == "bogus" {
                    return Err("invalid filter \"bogus\"".to_owned());
                }
                level_tx.send(level.to_owned()).map_err(|e| e.to_string())
            })
            .with_drain(move || drained_flag.store(true, Ordering::SeqCst)),
    )
    .await;

    expect_answer(address, "GET", "/quitquitquit", 405, "use POST\n").await;
    expect_answer(address, "POST", "/quitquitquit", 200, "OK\n").await;
    assert_eq!(quit_rx.recv().await, Some(()));

    expect_answer(
        address,
        "POST",
        "/logging?level=info%2Cmesh_proxy%3Ddebug",
        200,
        "log level set to info,mesh_proxy=debug\n",
    )
    .await;
    assert_eq!(
        level_rx.recv().await.as_deref(),
        Some("info,mesh_proxy=debug")
    );
    expect_answer(
        address,
        "POST",
        "/logging?level=bogus",
        400,
        "invalid filter \"bogus\"\n",
    )
    .await;
    expect_answer(
        address,
        "POST",
        "/logging",
        400,
        "usage: POST /logging?level=<filter>, e.g. level=info,mesh_proxy=debug\n",
    )
    .await;

    assert!(!drained.load(Ordering::SeqCst));
    expect_answer(address, "POST", "/drain_listeners", 200, "OK\n").await;
    assert!(drained.load(Ordering::SeqCst));
}

#[tokio::test]
async fn unwired_operations_say_so() {
    let address = start(AdminState::new(node())).await;
    expect_answer(
        address,
        "POST",
        "/quitquitquit",
        501,
        "shutdown is not wired\n",
    )
    .await;
    expect_answer(
        address,
        "POST",
        "/drain_listeners",
        501,
        "draining is not wired\n",
    )
    .await;
}

#[test]
fn percent_decoding() {
    assert_eq!(percent_decode("a%2Cb+c").as_deref(), Some("a,b c"));
    assert_eq!(percent_decode("%zz"), None);
    assert_eq!(percent_decode("%2"), None);
}

#[tokio::test]
async fn stats_prometheus_renders_the_exporter() {
    let stats = Arc::new(crate::stats::Stats::anonymous());
    let _open = stats.connection_opened("virtualOutbound");
    let exporter = Arc::new(crate::stats::Exporter::new(stats).with_pools(|| 2));
    let address = start(AdminState::new(node()).with_metrics(exporter)).await;
    expect_answer(
        address,
        "GET",
        "/stats/prometheus",
        200,
        "# TYPE mesh_proxy_downstream_connections_total counter\n\
         mesh_proxy_downstream_connections_total{listener=\"virtualOutbound\"} 1\n\n\
         # TYPE mesh_proxy_downstream_connections_active gauge\n\
         mesh_proxy_downstream_connections_active{listener=\"virtualOutbound\"} 1\n\n\
         # TYPE mesh_proxy_upstream_pools gauge\n\
         mesh_proxy_upstream_pools 2\n",
    )
    .await;
    expect_answer(address, "POST", "/stats/prometheus", 405, "use GET\n").await;
    let unwired = start(AdminState::new(node())).await;
    expect_answer(
        unwired,
        "GET",
        "/stats/prometheus",
        501,
        "metrics are not wired\n",
    )
    .await;
}

mod clusters;
mod drain;
mod plane;
