//! A simulated sidecar's delta ADS stream: an ACK carries only the nonce, and a change of
//! names subscribes and unsubscribes only what changed.

use std::collections::BTreeSet;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
    aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
};
use mesh_xds::ResourceType;
use prost::Message as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::{
    sidecar::{Sidecar, Wiring},
    stream::{self, Read, Resource, Variant},
};

/// One sidecar's side of a delta stream.
struct Delta<'a> {
    sidecar: &'a Sidecar,
}

/// Runs the stream until the control plane ends it (`Ok`) or it fails.
pub(super) async fn run(
    client: AggregatedDiscoveryServiceClient<Channel>,
    sidecar: &Sidecar,
    wiring: &Wiring,
) -> anyhow::Result<()> {
    stream::run(Delta { sidecar }, client, sidecar, wiring).await
}

// === impl Delta ===

impl Variant for Delta<'_> {
    type Request = DeltaDiscoveryRequest;
    type Response = DeltaDiscoveryResponse;

    const STREAM: &'static str = "delta ADS stream";

    async fn open(
        mut client: AggregatedDiscoveryServiceClient<Channel>,
        requests: ReceiverStream<Self::Request>,
    ) -> Result<tonic::Response<tonic::Streaming<DeltaDiscoveryResponse>>, tonic::Status> {
        client.delta_aggregated_resources(requests).await
    }

    fn wildcard(&mut self, kind: ResourceType) -> DeltaDiscoveryRequest {
        DeltaDiscoveryRequest {
            node: Some(self.sidecar.node.clone()),
            type_url: kind.type_url().to_string(),
            ..DeltaDiscoveryRequest::default()
        }
    }

    fn read(response: &DeltaDiscoveryResponse) -> Read<'_> {
        Read {
            type_url: &response.type_url,
            version: &response.system_version_info,
            nonce: &response.nonce,
            bytes: response.encoded_len(),
            complete: false,
            resources: response
                .resources
                .iter()
                .filter_map(|resource| {
                    let any = resource.resource.as_ref()?;
                    Some(Resource {
                        name: Some(resource.name.as_str()),
                        any,
                    })
                })
                .collect(),
            removed: &response.removed_resources,
        }
    }

    fn ack(
        &mut self,
        kind: ResourceType,
        response: &Read<'_>,
        _names: &BTreeSet<String>,
    ) -> DeltaDiscoveryRequest {
        DeltaDiscoveryRequest {
            response_nonce: response.nonce.to_string(),
            ..self.wildcard(kind)
        }
    }

    fn resubscribe(
        &mut self,
        kind: ResourceType,
        had: &BTreeSet<String>,
        wanted: &BTreeSet<String>,
    ) -> Option<DeltaDiscoveryRequest> {
        let subscribe: Vec<String> = wanted.difference(had).cloned().collect();
        let unsubscribe: Vec<String> = had.difference(wanted).cloned().collect();
        // A first request with no names would be the wildcard: ask only for names.
        if had.is_empty() && subscribe.is_empty() {
            return None;
        }
        Some(DeltaDiscoveryRequest {
            resource_names_subscribe: subscribe,
            resource_names_unsubscribe: unsubscribe,
            ..self.wildcard(kind)
        })
    }
}
