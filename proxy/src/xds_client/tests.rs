//! The ACK and NACK bookkeeping of [`Applier`]: counts, the time of the last NACK, and the
//! `error_state` that names the refused resource.

use std::{sync::Arc, time::SystemTime};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use mesh_xds::{
    json::from_yaml,
    resource::{Resource, ResourceType},
};

use super::{
    XdsState,
    apply::{Applier, Update},
};
use crate::{
    config::{ConfigStore, Snapshot},
    stats::{Exporter, Stats},
};

/// An EDS cluster with `extra` fields (YAML flow mappings, comma-separated).
fn cluster(name: &str, extra: &str) -> Cluster {
    from_yaml(&format!(
        "{{ name: {name}, type: EDS, eds_cluster_config: {{ eds_config: {{ ads: {{}} }} }} {extra} }}"
    ))
    .unwrap()
}

/// A field mesh-proxy refuses.
const REFUSED: &str =
    ", upstream_bind_config: { source_address: { address: 127.0.0.1, port_value: 0 } }";

fn update(version: &str, clusters: Vec<Cluster>) -> Update {
    Update {
        kind: ResourceType::Cluster,
        version: version.to_owned(),
        resources: clusters
            .into_iter()
            .map(|c| (String::new(), String::new(), Resource::from(c).into_any()))
            .collect(),
        removals: Vec::new(),
        full_set: true,
    }
}

const BAD: &str = "Cluster \"b\": upstream_bind_config: not supported by mesh-proxy";

#[tokio::test]
async fn acks_and_nacks_are_counted_and_the_last_nack_is_kept() {
    let state = Arc::new(XdsState::default());
    let applier = Applier {
        store: Arc::new(ConfigStore::new(Snapshot::default())),
        state: Arc::clone(&state),
    };
    let start = SystemTime::now();
    applier
        .apply(update("1", vec![cluster("a", "")]))
        .await
        .unwrap();
    applier
        .apply(update("2", vec![cluster("a", ", lb_policy: RANDOM")]))
        .await
        .unwrap();
    let refused = applier
        .apply(update(
            "3",
            vec![cluster("a", ", lb_policy: RANDOM"), cluster("b", REFUSED)],
        ))
        .await;
    let end = SystemTime::now();
    assert_eq!(refused, Err(BAD.to_owned()));

    let status = state.load();
    let clusters = &status.types[&ResourceType::Cluster];
    assert_eq!((clusters.accepted, clusters.rejected), (2, 1));
    assert_eq!(clusters.version, "2");
    assert_eq!(clusters.last_error.as_deref(), Some(BAD));
    let at = clusters.last_rejected_at.unwrap();
    assert!(
        start <= at && at <= end,
        "{at:?} outside {start:?}..{end:?}"
    );
    let error = clusters.error_state.as_ref().unwrap();
    assert_eq!((error.version.as_str(), error.details.as_str()), ("3", BAD));
    assert_eq!(error.at, at);
    let (name, any) = error.failed.as_ref().unwrap();
    assert_eq!(name, "b");
    assert_eq!(
        Resource::decode_any(any).unwrap(),
        Resource::from(cluster("b", REFUSED))
    );

    let cds = ResourceType::Cluster.type_url();
    let rendered = Exporter::new(Arc::new(Stats::anonymous()))
        .with_xds(Arc::clone(&state))
        .render();
    let seconds = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for line in [
        format!("mesh_proxy_xds_updates_accepted_total{{type_url=\"{cds}\"}} 2"),
        format!("mesh_proxy_xds_updates_rejected_total{{type_url=\"{cds}\"}} 1"),
        format!("mesh_proxy_xds_rejected{{type_url=\"{cds}\"}} 1"),
        format!(
            "mesh_proxy_xds_last_rejection_timestamp_seconds{{type_url=\"{cds}\"}} {seconds:.3}"
        ),
    ] {
        assert!(
            rendered.lines().any(|l| l == line),
            "{line}\nnot in\n{rendered}"
        );
    }

    // The next ACK clears the error state; the time of the last NACK stays.
    applier
        .apply(update("4", vec![cluster("a", "")]))
        .await
        .unwrap();
    let status = state.load();
    let clusters = &status.types[&ResourceType::Cluster];
    assert_eq!((clusters.accepted, clusters.rejected), (3, 1));
    assert!(clusters.error_state.is_none());
    assert_eq!(clusters.last_error, None);
    assert_eq!(clusters.last_rejected_at, Some(at));
}

#[tokio::test]
async fn an_undecodable_resource_is_named_by_its_index() {
    let state = Arc::new(XdsState::default());
    let applier = Applier {
        store: Arc::new(ConfigStore::new(Snapshot::default())),
        state: Arc::clone(&state),
    };
    let mut garbage = Resource::from(cluster("a", "")).into_any();
    garbage.value = vec![0xff, 0xff];
    let refused = applier
        .apply(Update {
            kind: ResourceType::Cluster,
            version: "1".to_owned(),
            resources: vec![(String::new(), String::new(), garbage.clone())],
            removals: Vec::new(),
            full_set: true,
        })
        .await
        .unwrap_err();
    assert!(refused.starts_with("resources[0]: malformed "), "{refused}");
    let status = state.load();
    let clusters = &status.types[&ResourceType::Cluster];
    assert_eq!((clusters.accepted, clusters.rejected), (0, 1));
    let error = clusters.error_state.as_ref().unwrap();
    assert_eq!(error.failed, Some((String::new(), garbage)));
}
