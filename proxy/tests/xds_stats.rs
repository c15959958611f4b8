//! The ADS client's ACK and NACK counts as the metrics and the admin's `config_dump` show them,
//! against the in-process fake control plane.

#![allow(clippy::unwrap_used)]

use std::{net::SocketAddr, sync::Arc, time::SystemTime};

use envoy_types::pb::envoy::{
    config::cluster::v3::Cluster, service::discovery::v3::DiscoveryResponse,
};
use mesh_common::xds;
use mesh_proxy::{
    admin::{self, AdminState},
    config::{ConfigStore, Snapshot},
    stats::{Exporter, Stats},
    xds_client::XdsClient,
};
use mesh_xds::{
    json::from_yaml,
    resource::{Resource, ResourceType},
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

// Only the state-of-the-world half of the fake control plane is used here.
#[allow(dead_code)]
mod ads_support;
mod support;

use self::{
    ads_support::{Control, ads, node, sotw},
    support::request,
};

fn cluster(name: &str, extra: &str) -> Cluster {
    from_yaml(&format!(
        "{{ name: {name}, type: EDS, eds_cluster_config: {{ eds_config: {{ ads: {{}} }} }} {extra} }}"
    ))
    .unwrap()
}

/// A CDS response holding `clusters`.
fn cds(version: &str, nonce: &str, clusters: Vec<Cluster>) -> DiscoveryResponse {
    let resources = clusters
        .into_iter()
        .map(|c| Resource::from(c).into_any())
        .collect();
    sotw(ResourceType::Cluster, version, nonce, resources)
}

const BAD: &str = "Cluster \"b\": upstream_bind_config: not supported by mesh-proxy";

async fn config_dump(admin: SocketAddr) -> Value {
    let response = request(admin.port(), "GET", "/config_dump", &[])
        .await
        .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    serde_json::from_str(&response.body).unwrap()
}

#[tokio::test]
async fn acks_and_nacks_are_counted_and_the_nack_shows_in_config_dump() {
    let mut control = Control::start("127.0.0.1:0".parse().unwrap()).await;
    let store = Arc::new(ConfigStore::new(Snapshot::default()));
    let client = XdsClient::spawn(ads(control.address), node(), Arc::clone(&store), false);
    let exporter = Exporter::new(Arc::new(Stats::anonymous())).with_xds(client.state());
    let admin_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = admin_listener.local_addr().unwrap();
    tokio::spawn(admin::serve(
        admin_listener,
        AdminState::new(node()).with_xds(client.state()),
    ));
    let mut stream = control.sotw_stream().await;
    for kind in ["Cluster", "Listener"] {
        assert_eq!(xds::short_name(&stream.next().await.type_url), kind);
    }

    let start = SystemTime::now();
    stream.send(cds("1", "n1", vec![cluster("a", "")]));
    assert_eq!(stream.next().await.error_detail, None);
    assert_eq!(
        xds::short_name(&stream.next().await.type_url),
        "ClusterLoadAssignment"
    );
    stream.send(cds("2", "n2", vec![cluster("a", ", lb_policy: RANDOM")]));
    assert_eq!(stream.next().await.error_detail, None);
    let refused =
        ", upstream_bind_config: { source_address: { address: 127.0.0.1, port_value: 0 } }";
    stream.send(cds(
        "3",
        "n3",
        vec![cluster("a", ""), cluster("b", refused)],
    ));
    let nack = stream.next().await;
    let end = SystemTime::now();
    assert_eq!(
        (nack.version_info.as_str(), nack.response_nonce.as_str()),
        ("2", "n3")
    );
    assert_eq!(nack.error_detail.unwrap().message, BAD);

    // The NACK is sent after the state records it: the scrape sees all three responses.
    let rendered = exporter.render();
    let cds_url = ResourceType::Cluster.type_url();
    for line in [
        format!("mesh_proxy_xds_updates_accepted_total{{type_url=\"{cds_url}\"}} 2"),
        format!("mesh_proxy_xds_updates_rejected_total{{type_url=\"{cds_url}\"}} 1"),
        format!("mesh_proxy_xds_rejected{{type_url=\"{cds_url}\"}} 1"),
        format!("mesh_proxy_config_version_info{{type_url=\"{cds_url}\",version=\"2\"}} 1"),
    ] {
        assert!(
            rendered.lines().any(|l| l == line),
            "{line}\nnot in\n{rendered}"
        );
    }
    let prefix =
        format!("mesh_proxy_xds_last_rejection_timestamp_seconds{{type_url=\"{cds_url}\"}} ");
    let at: f64 = rendered
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap()
        .parse()
        .unwrap();
    let seconds = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    // Printed rounded to the millisecond.
    assert!(
        seconds(start) - 0.001 <= at && at <= seconds(end) + 0.001,
        "{at} outside {}..{}",
        seconds(start),
        seconds(end)
    );

    let dump = config_dump(admin).await;
    let clusters = &dump["configs"][0];
    assert_eq!(clusters["version_info"], "2");
    let entries = clusters["dynamic_active_clusters"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[0]["cluster"]["name"], "a");
    assert_eq!(entries[0]["cluster"]["lb_policy"], "RANDOM");
    assert_eq!(entries[0].get("error_state"), None);
    let error = &entries[1]["error_state"];
    assert_eq!(
        (&error["details"], &error["version_info"]),
        (&json!(BAD), &json!("3"))
    );
    assert_eq!(error["failed_configuration"]["name"], "b");
    assert_eq!(
        error["failed_configuration"]["@type"],
        "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    );
    assert!(
        error["last_update_attempt"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
}
