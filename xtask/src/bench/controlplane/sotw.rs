//! A simulated sidecar's state-of-the-world ADS stream.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context as _;
use envoy_types::pb::envoy::service::discovery::v3::{
    DiscoveryRequest, aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
};
use mesh_xds::ResourceType;
use prost::Message as _;
use tokio::{sync::mpsc, time::Instant};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

use super::{
    decode,
    sidecar::{Event, Progress, Sidecar, Wiring, report},
};

/// Requests in flight on one stream: a sidecar sends at most an ACK and a resubscription per
/// response.
const REQUESTS: usize = 16;

/// Runs the stream until the control plane ends it (`Ok`) or it fails.
pub(super) async fn run(
    mut client: AggregatedDiscoveryServiceClient<Channel>,
    sidecar: &Sidecar,
    wiring: &Wiring,
) -> anyhow::Result<()> {
    let (requests, receiver) = mpsc::channel(REQUESTS);
    let mut responses = client
        .stream_aggregated_resources(ReceiverStream::new(receiver))
        .await
        .context("opening the ADS stream")?
        .into_inner();
    // Per type: the version and nonce of the last response, which every request carries.
    let mut last: HashMap<ResourceType, (String, String)> = HashMap::new();
    let mut progress = Progress::default();
    let request =
        |kind: ResourceType, names: &BTreeSet<String>, last: Option<&(String, String)>| {
            let (version, nonce) = last.cloned().unwrap_or_default();
            DiscoveryRequest {
                node: Some(sidecar.node.clone()),
                type_url: kind.type_url().to_string(),
                resource_names: names.iter().cloned().collect(),
                version_info: version,
                response_nonce: nonce,
                ..DiscoveryRequest::default()
            }
        };
    let wildcard = BTreeSet::new();
    for kind in [ResourceType::Cluster, ResourceType::Listener] {
        requests.send(request(kind, &wildcard, None)).await?;
    }
    while let Some(response) = responses.message().await.context("reading the stream")? {
        let received = Instant::now();
        let kind = ResourceType::from_type_url(&response.type_url)
            .with_context(|| format!("a response of unknown type {}", response.type_url))?;
        let event = Event::Response {
            sidecar: sidecar.index,
            kind,
            received,
            bytes: response.encoded_len(),
            version: response.version_info.clone(),
        };
        if !report(wiring, event) {
            return Ok(());
        }
        let mut carried = Vec::new();
        match kind {
            ResourceType::Cluster => {
                progress.clusters.clear();
                for any in &response.resources {
                    if let Some(eds) = decode::eds_name(any)? {
                        progress.clusters.insert(decode::packed_name(any)?, eds);
                    }
                }
            }
            ResourceType::ClusterLoadAssignment => {
                let awaited = wiring.awaited.borrow().clone();
                for any in &response.resources {
                    let cluster = decode::packed_name(any)?;
                    carried.extend(progress.carried(&awaited, &cluster, any)?);
                }
            }
            ResourceType::Listener => {
                progress.listeners.clear();
                for any in &response.resources {
                    let name = decode::packed_name(any)?;
                    progress.listeners.insert(name, decode::route_names(any)?);
                }
            }
            ResourceType::RouteConfiguration | ResourceType::Secret => {}
        }
        last.insert(kind, (response.version_info, response.nonce));
        let names = match kind {
            ResourceType::ClusterLoadAssignment => &progress.eds,
            ResourceType::RouteConfiguration => &progress.rds,
            _ => &wildcard,
        };
        requests.send(request(kind, names, last.get(&kind))).await?;
        let acked = Instant::now();
        progress.acked.insert(kind);
        for change in carried {
            let applied = Event::Applied {
                sidecar: sidecar.index,
                change,
                acked,
            };
            if !report(wiring, applied) {
                return Ok(());
            }
        }
        // New clusters or listeners change the names of the endpoints or routes to ask for.
        let (follows, wanted) = match kind {
            ResourceType::Cluster => (ResourceType::ClusterLoadAssignment, progress.new_eds()),
            ResourceType::Listener => (ResourceType::RouteConfiguration, progress.new_rds()),
            _ => (kind, None),
        };
        if let Some(wanted) = wanted {
            progress.acked.remove(&follows);
            requests
                .send(request(follows, &wanted, last.get(&follows)))
                .await?;
            match follows {
                ResourceType::ClusterLoadAssignment => progress.eds = wanted,
                _ => progress.rds = wanted,
            }
        }
        if progress.just_synced() {
            let synced = Event::Synced {
                sidecar: sidecar.index,
                at: acked,
            };
            if !report(wiring, synced) {
                return Ok(());
            }
        }
    }
    Ok(())
}
