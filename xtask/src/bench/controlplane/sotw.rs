//! A simulated sidecar's state-of-the-world ADS stream: every request carries the version and
//! nonce of the last response of its type, and the whole set of names it wants.

use std::collections::{BTreeSet, HashMap};

use envoy_types::pb::envoy::service::discovery::v3::{
    DiscoveryRequest, DiscoveryResponse,
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

/// The state of the world as one sidecar has it.
struct Sotw<'a> {
    sidecar: &'a Sidecar,
    /// Per type: the version and nonce of the last response, which every request carries.
    last: HashMap<ResourceType, (String, String)>,
}

/// Runs the stream until the control plane ends it (`Ok`) or it fails.
pub(super) async fn run(
    client: AggregatedDiscoveryServiceClient<Channel>,
    sidecar: &Sidecar,
    wiring: &Wiring,
) -> anyhow::Result<()> {
    let sotw = Sotw {
        sidecar,
        last: HashMap::new(),
    };
    stream::run(sotw, client, sidecar, wiring).await
}

// === impl Sotw ===

impl Sotw<'_> {
    fn request(&self, kind: ResourceType, names: &BTreeSet<String>) -> DiscoveryRequest {
        let (version, nonce) = self.last.get(&kind).cloned().unwrap_or_default();
        DiscoveryRequest {
            node: Some(self.sidecar.node.clone()),
            type_url: kind.type_url().to_string(),
            resource_names: names.iter().cloned().collect(),
            version_info: version,
            response_nonce: nonce,
            ..DiscoveryRequest::default()
        }
    }
}

impl Variant for Sotw<'_> {
    type Request = DiscoveryRequest;
    type Response = DiscoveryResponse;

    const STREAM: &'static str = "ADS stream";

    async fn open(
        mut client: AggregatedDiscoveryServiceClient<Channel>,
        requests: ReceiverStream<Self::Request>,
    ) -> Result<tonic::Response<tonic::Streaming<DiscoveryResponse>>, tonic::Status> {
        client.stream_aggregated_resources(requests).await
    }

    fn wildcard(&mut self, kind: ResourceType) -> DiscoveryRequest {
        self.request(kind, &BTreeSet::new())
    }

    fn read(response: &DiscoveryResponse) -> Read<'_> {
        Read {
            type_url: &response.type_url,
            version: &response.version_info,
            nonce: &response.nonce,
            bytes: response.encoded_len(),
            complete: true,
            resources: response
                .resources
                .iter()
                .map(|any| Resource { name: None, any })
                .collect(),
            removed: &[],
        }
    }

    fn ack(
        &mut self,
        kind: ResourceType,
        response: &Read<'_>,
        names: &BTreeSet<String>,
    ) -> DiscoveryRequest {
        let last = (response.version.to_string(), response.nonce.to_string());
        self.last.insert(kind, last);
        self.request(kind, names)
    }

    fn resubscribe(
        &mut self,
        kind: ResourceType,
        _had: &BTreeSet<String>,
        wanted: &BTreeSet<String>,
    ) -> Option<DiscoveryRequest> {
        // The whole set, every time.
        Some(self.request(kind, wanted))
    }
}
