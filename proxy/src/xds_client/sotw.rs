//! One state-of-the-world ADS stream: wildcard CDS and LDS, named EDS, SDS and RDS that follow
//! the clusters and listeners, an ACK or NACK per response.

use std::collections::{BTreeSet, HashMap};

use envoy_types::pb::envoy::{config::core::v3::Node, service::discovery::v3::DiscoveryRequest};
use mesh_xds::resource::ResourceType;
use tonic::transport::Channel;

use super::{
    apply::{Applier, Update},
    stream::{self, Outbox, unsupported},
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
    let send = |request: DiscoveryRequest| outbox.send(request);
    let mut subscriptions = Subscriptions::default();
    // The last nonce per type: a changed subscription must carry it, or the server may take
    // the request for an ACK of a response it has not sent yet.
    let mut nonces: HashMap<ResourceType, String> = HashMap::new();
    for kind in WILDCARD {
        let version = applier.state.version(kind);
        send(request(node, kind, version, &BTreeSet::new(), "", None));
    }
    for (kind, wanted) in subscriptions.open(applier) {
        send(request(
            node,
            kind,
            applier.state.version(kind),
            &wanted,
            "",
            None,
        ));
    }
    let mut responses = stream::open(channel, requests, applier).await?;
    while let Some(response) = responses.message().await? {
        *received = true;
        let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
            let error = unsupported(&response.type_url);
            let mut nack = request(
                node,
                ResourceType::Cluster,
                String::new(),
                &BTreeSet::new(),
                &response.nonce,
                Some(error),
            );
            nack.type_url = response.type_url;
            send(nack);
            continue;
        };
        nonces.insert(kind, response.nonce.clone());
        let update = Update {
            kind,
            version: response.version_info.clone(),
            resources: response
                .resources
                .into_iter()
                .map(|any| (String::new(), String::new(), any))
                .collect(),
            removals: Vec::new(),
            full_set: WILDCARD.contains(&kind),
        };
        let (version, error) = match applier.apply(update).await {
            Ok(()) => (response.version_info, None),
            Err(error) => (applier.state.version(kind), Some(error)),
        };
        let subscribed = subscriptions.of(kind);
        send(request(
            node,
            kind,
            version,
            &subscribed,
            &response.nonce,
            error,
        ));
        // New clusters and listeners may need assignments, secrets and routes not asked for yet.
        for change in subscriptions.follow(kind, applier) {
            let nonce = nonces.get(&change.kind).cloned().unwrap_or_default();
            let version = applier.state.version(change.kind);
            send(request(
                node,
                change.kind,
                version,
                &change.wanted,
                &nonce,
                None,
            ));
        }
    }
    Ok(())
}

fn request(
    node: &Node,
    kind: ResourceType,
    version_info: String,
    names: &BTreeSet<String>,
    nonce: &str,
    error: Option<String>,
) -> DiscoveryRequest {
    DiscoveryRequest {
        version_info,
        node: Some(node.clone()),
        resource_names: names.iter().cloned().collect(),
        type_url: kind.type_url().to_owned(),
        response_nonce: nonce.to_owned(),
        error_detail: error.map(stream::nack),
        ..DiscoveryRequest::default()
    }
}
