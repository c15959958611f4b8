//! The whole control plane in-process: a config directory, a sidecar over real gRPC and the
//! monitoring pages over real HTTP, through an edit, a broken file and a graceful stop.

// The helpers below are test code too: a failure should panic.
#![allow(clippy::unwrap_used)]

mod ads_sidecar;
mod support;

use std::{fs, net::SocketAddr, time::Duration};

use envoy_types::pb::envoy::{
    config::{
        core::v3::Node,
        route::v3::{RouteConfiguration, route::Action},
    },
    service::discovery::v3::DiscoveryResponse,
};
use mesh_common::well_known::node_metadata;
use mesh_controlplane::server::{ControlPlane, Source};
use mesh_testing::eventually;
use mesh_xds::{Resource, ResourceType};
use serde_json::Value;
use tokio::time::timeout;

use self::{
    ads_sidecar::{PATIENCE, Sidecar, get, names, resources},
    support::{RATINGS_TIMEOUT, config, save},
};

const NODE_ID: &str = "sidecar~198.18.0.10~productpage-v1-1.default~default.svc.cluster.local";
const BOOKINFO: &str = include_str!("data/bookinfo.yaml");

/// The ratings VirtualService, half-saved (cut inside its last line): the store keeps the last
/// version that loaded.
fn ratings_broken() -> String {
    let cut = RATINGS_TIMEOUT.rfind("ings}").unwrap();
    format!("{}\n", &RATINGS_TIMEOUT[..cut])
}

fn node() -> Node {
    support::node(
        NODE_ID,
        &[(node_metadata::NAMESPACE, "default")],
        &[("app", "productpage"), ("version", "v1")],
    )
}

fn as_strs(names: &[String]) -> Vec<&str> {
    names.iter().map(String::as_str).collect()
}

async fn get_json(address: SocketAddr, path: &str) -> Value {
    let (code, body) = get(address, path).await;
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The timeout of the first route of the ratings virtual host, in seconds.
fn ratings_timeout(routes: &RouteConfiguration) -> Option<i64> {
    let host = routes
        .virtual_hosts
        .iter()
        .find(|h| h.name == "ratings.default.svc.cluster.local:9080")?;
    match host.routes.first()?.action.as_ref()? {
        Action::Route(action) => action.timeout.as_ref().map(|t| t.seconds),
        _ => None,
    }
}

fn route_configuration(response: &DiscoveryResponse) -> RouteConfiguration {
    match resources(response).pop() {
        Some(Resource::RouteConfiguration(routes)) => *routes,
        other => panic!("not a route configuration: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_a_sidecar_follows_edits_and_survives_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("bookinfo.yaml"), BOOKINFO).unwrap();
    let source = Source::ConfigDirs(vec![root.to_path_buf()]);
    let control_plane = ControlPlane::start(config(source, Duration::from_millis(20)))
        .await
        .unwrap();
    let monitoring = control_plane.monitoring_address();
    assert_eq!(
        get(monitoring, "/ready").await,
        (200, "ready\n".to_string())
    );

    // Envoy's order: clusters, their endpoints, listeners, their routes.
    let mut sidecar = Sidecar::connect(control_plane.xds_address(), node()).await;
    let clusters = sidecar.subscribe(ResourceType::Cluster, &[]).await;
    let eds_names: Vec<String> = names(&clusters)
        .into_iter()
        .filter(|name| name.starts_with("outbound|"))
        .collect();
    assert_eq!(
        eds_names,
        [
            "outbound|27017||mongodb.default.svc.cluster.local",
            "outbound|9080||details.default.svc.cluster.local",
            "outbound|9080||productpage.default.svc.cluster.local",
            "outbound|9080||ratings.default.svc.cluster.local",
            "outbound|9080||reviews.default.svc.cluster.local",
        ]
    );
    let endpoints = sidecar
        .subscribe(ResourceType::ClusterLoadAssignment, &as_strs(&eds_names))
        .await;
    assert_eq!(names(&endpoints), eds_names);
    let listeners = sidecar.subscribe(ResourceType::Listener, &[]).await;
    assert_eq!(
        names(&listeners),
        [
            "0.0.0.0_27017",
            "0.0.0.0_9080",
            "virtualInbound",
            "virtualOutbound"
        ]
    );
    let route_names = vec!["9080".to_string()];
    let routes = sidecar
        .subscribe(ResourceType::RouteConfiguration, &as_strs(&route_names))
        .await;
    assert_eq!(ratings_timeout(&route_configuration(&routes)), Some(0));

    // A new VirtualService changes the routes, and only the routes.
    save(root, "ratings.yaml", RATINGS_TIMEOUT);
    let pushed = sidecar.next().await;
    assert_eq!(pushed.type_url, ResourceType::RouteConfiguration.type_url());
    assert_eq!(ratings_timeout(&route_configuration(&pushed)), Some(7));
    sidecar
        .send(
            ResourceType::RouteConfiguration,
            &as_strs(&route_names),
            Some(&pushed),
        )
        .await;
    let syncz = eventually(|| async {
        let syncz = get_json(monitoring, "/debug/syncz").await;
        let rds = &syncz[0]["types"][ResourceType::RouteConfiguration.type_url()];
        (rds["version_acked"] == pushed.version_info.as_str()).then_some(syncz)
    })
    .await
    .unwrap();
    assert_eq!(syncz.as_array().unwrap().len(), 1);
    assert_eq!(syncz[0]["proxy"], NODE_ID);
    assert_eq!(syncz[0]["protocol"], "sotw");
    let cds = &syncz[0]["types"][ResourceType::Cluster.type_url()];
    assert_eq!(cds["version_acked"], clusters.version_info.as_str());
    assert_eq!(cds["version_sent"], clusters.version_info.as_str());
    assert_eq!(cds["nonce"], clusters.nonce.as_str());
    assert_eq!(cds["last_nack"], Value::Null);

    // A half-saved file is reported where it is broken; the proxy keeps the last good routes.
    save(root, "ratings.yaml", &ratings_broken());
    let status = eventually(|| async {
        let status = get_json(monitoring, "/debug/config_status").await;
        (!status["file_errors"].as_array()?.is_empty()).then_some(status)
    })
    .await;
    let status = match status {
        Ok(status) => status,
        Err(_) => panic!("{}", get_json(monitoring, "/debug/config_status").await),
    };
    let file = root.join("ratings.yaml").display().to_string();
    assert_eq!(status["file_errors"][0]["file"], file.as_str());
    assert_eq!(
        status["file_errors"],
        serde_json::json!([{
            "file": file,
            "line": 9,
            "kind": null,
            "namespace": null,
            "name": null,
            "reason": "unclosed bracket '{'",
            "message": format!("{file}:9: unclosed bracket '{{'"),
        }])
    );
    let dump = get_json(
        monitoring,
        &format!("/debug/config_dump?proxyID={}", NODE_ID.replace('~', "%7E")),
    )
    .await;
    assert_eq!(dump["proxy"], NODE_ID);
    let ratings = dump["routes"][0]["virtual_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "ratings.default.svc.cluster.local:9080")
        .unwrap();
    assert_eq!(ratings["routes"][0]["route"]["timeout"], "7s");

    let (code, metrics) = get(monitoring, "/metrics").await;
    assert_eq!(code, 200);
    let rds_pushes = format!(
        "mesh_controlplane_xds_pushes_total{{type_url=\"{}\"}} 2",
        ResourceType::RouteConfiguration.type_url()
    );
    assert!(metrics.lines().any(|l| l == rds_pushes), "{metrics}");
    assert!(
        metrics
            .lines()
            .any(|l| l == "mesh_controlplane_xds_connected_proxies{type=\"sotw\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics
            .lines()
            .any(|l| l == "mesh_controlplane_config_errors 1"),
        "{metrics}"
    );

    // A graceful stop ends the stream with OK.
    timeout(PATIENCE, control_plane.stop())
        .await
        .expect("the control plane stops in time")
        .unwrap();
    let end = timeout(PATIENCE, sidecar.message())
        .await
        .expect("the stream ends in time");
    assert!(matches!(end, Ok(None)), "{end:?}");
}
