//! One state-of-the-world ADS stream: wildcard CDS and LDS, named EDS and RDS that follow the
//! clusters and listeners, an ACK or NACK per response.

use std::collections::{BTreeSet, HashMap};

use envoy_types::pb::{
    envoy::{
        config::core::v3::Node,
        service::discovery::v3::{
            DiscoveryRequest, aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
        },
    },
    google::rpc::Status as RpcStatus,
};
use mesh_xds::resource::ResourceType;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::transport::Channel;

use super::{
    INVALID_ARGUMENT,
    apply::{Applier, Update},
};

/// What was last asked for, per type.
#[derive(Default)]
struct Asked {
    names: HashMap<ResourceType, BTreeSet<String>>,
    nonces: HashMap<ResourceType, String>,
}

/// Runs one stream until the server ends it or it fails. `received` turns true with the first
/// response, so that the caller knows the connection worked.
pub(super) async fn run(
    channel: Channel,
    node: &Node,
    applier: &Applier,
    received: &mut bool,
) -> Result<(), tonic::Status> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut asked = Asked::default();
    let send = |request: DiscoveryRequest| {
        // The receiver lives as long as the stream; a failed send means the stream is over,
        // which `message()` reports.
        let _ = tx.send(request);
    };
    let names = applier.names();
    for kind in [ResourceType::Cluster, ResourceType::Listener] {
        send(request(
            node,
            kind,
            applier.state.version(kind),
            &BTreeSet::new(),
            "",
            None,
        ));
    }
    for kind in [
        ResourceType::ClusterLoadAssignment,
        ResourceType::RouteConfiguration,
    ] {
        let wanted = names.of(kind);
        if !wanted.is_empty() {
            send(request(
                node,
                kind,
                applier.state.version(kind),
                &wanted,
                "",
                None,
            ));
            asked.names.insert(kind, wanted);
        }
    }
    let mut client = AggregatedDiscoveryServiceClient::new(channel);
    let mut responses = client
        .stream_aggregated_resources(UnboundedReceiverStream::new(rx))
        .await?
        .into_inner();
    applier.state.set_connected(true);
    while let Some(response) = responses.message().await? {
        *received = true;
        let Some(kind) = ResourceType::from_type_url(&response.type_url) else {
            let error = format!("unsupported xDS resource type {:?}", response.type_url);
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
        asked.nonces.insert(kind, response.nonce.clone());
        let update = Update {
            kind,
            version: response.version_info.clone(),
            resources: response
                .resources
                .into_iter()
                .map(|any| (String::new(), String::new(), any))
                .collect(),
            removals: Vec::new(),
            full_set: matches!(kind, ResourceType::Listener | ResourceType::Cluster),
        };
        let result = applier.apply(update).await;
        let subscribed = asked.names.get(&kind).cloned().unwrap_or_default();
        match result {
            Ok(()) => send(request(
                node,
                kind,
                response.version_info,
                &subscribed,
                &response.nonce,
                None,
            )),
            Err(error) => send(request(
                node,
                kind,
                applier.state.version(kind),
                &subscribed,
                &response.nonce,
                Some(error),
            )),
        }
        // New clusters and listeners may need assignments and routes not asked for yet.
        let dependent = match kind {
            ResourceType::Cluster => ResourceType::ClusterLoadAssignment,
            ResourceType::Listener => ResourceType::RouteConfiguration,
            _ => continue,
        };
        let wanted = applier.names().of(dependent);
        let previous = asked.names.get(&dependent);
        if previous != Some(&wanted) && !(previous.is_none() && wanted.is_empty()) {
            let nonce = asked.nonces.get(&dependent).cloned().unwrap_or_default();
            send(request(
                node,
                dependent,
                applier.state.version(dependent),
                &wanted,
                &nonce,
                None,
            ));
            asked.names.insert(dependent, wanted);
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
        error_detail: error.map(|message| RpcStatus {
            code: INVALID_ARGUMENT,
            message,
            details: Vec::new(),
        }),
        ..DiscoveryRequest::default()
    }
}
