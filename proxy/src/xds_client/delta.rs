//! One delta (incremental) ADS stream: wildcard CDS and LDS, named EDS, SDS and RDS
//! subscriptions that follow the clusters and listeners, an ACK or NACK per response, and on reconnection the
//! versions already held (`initial_resource_versions`) so that they are not sent again.

use envoy_types::pb::envoy::{
    config::core::v3::Node, service::discovery::v3::DeltaDiscoveryRequest,
};
use mesh_xds::resource::ResourceType;
use tonic::transport::Channel;

use super::{
    apply::{Applier, Update},
    stream::{self, Outbox, nack, unsupported},
    subscriptions::{Subscriptions, WILDCARD},
};

/// Runs one stream until the server ends it or it fails. `received` turns true with the first
/// response, so that the caller knows the connection worked.
pub(super) async fn run(
    channel: Channel,
    node: &Node,
    applier: &Applier,
    received: &mut bool,
) -> Result<(), tonic::Status> {
    let (outbox, requests) = Outbox::new();
    let send = |request: DeltaDiscoveryRequest| outbox.send(request);
    let mut subscriptions = Subscriptions::default();
    for kind in WILDCARD {
        // No names on the first request: the wildcard.
        send(DeltaDiscoveryRequest {
            node: Some(node.clone()),
            type_url: kind.type_url().to_owned(),
            initial_resource_versions: applier.state.versions(kind).into_iter().collect(),
            ..DeltaDiscoveryRequest::default()
        });
    }
    for (kind, wanted) in subscriptions.open(applier) {
        let held = applier.state.versions(kind);
        send(DeltaDiscoveryRequest {
            node: Some(node.clone()),
            type_url: kind.type_url().to_owned(),
            initial_resource_versions: held
                .into_iter()
                .filter(|(name, _)| wanted.contains(name))
                .collect(),
            resource_names_subscribe: wanted.into_iter().collect(),
            ..DeltaDiscoveryRequest::default()
        });
    }
    let mut responses = stream::open(channel, requests, applier).await?;
    while let Some(response) = responses.message().await? {
        *received = true;
        let mut answer = DeltaDiscoveryRequest {
            node: Some(node.clone()),
            type_url: response.type_url.clone(),
            response_nonce: response.nonce.clone(),
            ..DeltaDiscoveryRequest::default()
        };
        let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
            answer.error_detail = Some(nack(unsupported(&response.type_url)));
            send(answer);
            continue;
        };
        let version = if response.system_version_info.is_empty() {
            response.nonce.clone()
        } else {
            response.system_version_info.clone()
        };
        let update = Update {
            kind,
            version,
            resources: response
                .resources
                .into_iter()
                .filter_map(|r| Some((r.name, r.version, r.resource?)))
                .collect(),
            removals: response.removed_resources,
            full_set: false,
        };
        if let Err(error) = applier.apply(update).await {
            answer.error_detail = Some(nack(error));
        }
        send(answer);
        for change in subscriptions.follow(kind, applier) {
            send(DeltaDiscoveryRequest {
                // A first request must name the node; later ones may.
                node: change.first.then(|| node.clone()),
                type_url: change.kind.type_url().to_owned(),
                resource_names_subscribe: change
                    .wanted
                    .difference(&change.previous)
                    .cloned()
                    .collect(),
                resource_names_unsubscribe: change
                    .previous
                    .difference(&change.wanted)
                    .cloned()
                    .collect(),
                ..DeltaDiscoveryRequest::default()
            });
        }
    }
    Ok(())
}
