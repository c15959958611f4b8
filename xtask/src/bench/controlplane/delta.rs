//! A simulated sidecar's delta ADS stream.

use anyhow::Context as _;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
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
        .delta_aggregated_resources(ReceiverStream::new(receiver))
        .await
        .context("opening the delta ADS stream")?
        .into_inner();
    let mut progress = Progress::default();
    let request = |kind: ResourceType| DeltaDiscoveryRequest {
        node: Some(sidecar.node.clone()),
        type_url: kind.type_url().to_string(),
        ..DeltaDiscoveryRequest::default()
    };
    // No names on the first request: the wildcard, as Envoy asks for clusters and listeners.
    for kind in [ResourceType::Cluster, ResourceType::Listener] {
        requests.send(request(kind)).await?;
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
            version: response.system_version_info.clone(),
        };
        if !report(wiring, event) {
            return Ok(());
        }
        let mut carried = Vec::new();
        match kind {
            ResourceType::Cluster => {
                for resource in &response.resources {
                    let Some(any) = &resource.resource else {
                        continue;
                    };
                    match decode::eds_name(any)? {
                        Some(eds) => progress.clusters.insert(resource.name.clone(), eds),
                        None => progress.clusters.remove(&resource.name),
                    };
                }
                for name in &response.removed_resources {
                    progress.clusters.remove(name);
                }
            }
            ResourceType::ClusterLoadAssignment => {
                let awaited = wiring.awaited.borrow().clone();
                for resource in &response.resources {
                    if let Some(any) = &resource.resource {
                        carried.extend(progress.carried(&awaited, &resource.name, any)?);
                    }
                }
            }
            ResourceType::Listener => {
                for resource in &response.resources {
                    if let Some(any) = &resource.resource {
                        let routes = decode::route_names(any)?;
                        progress.listeners.insert(resource.name.clone(), routes);
                    }
                }
                for name in &response.removed_resources {
                    progress.listeners.remove(name);
                }
            }
            ResourceType::RouteConfiguration | ResourceType::Secret => {}
        }
        let ack = DeltaDiscoveryRequest {
            response_nonce: response.nonce,
            ..request(kind)
        };
        requests.send(ack).await?;
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
        let (follows, wanted) = match kind {
            ResourceType::Cluster => (ResourceType::ClusterLoadAssignment, progress.new_eds()),
            ResourceType::Listener => (ResourceType::RouteConfiguration, progress.new_rds()),
            _ => (kind, None),
        };
        if let Some(wanted) = wanted {
            let had = match follows {
                ResourceType::ClusterLoadAssignment => &mut progress.eds,
                _ => &mut progress.rds,
            };
            let subscribe: Vec<String> = wanted.difference(had).cloned().collect();
            let unsubscribe: Vec<String> = had.difference(&wanted).cloned().collect();
            // A first request with no names would be the wildcard: ask only for names.
            let first = had.is_empty();
            *had = wanted;
            if !(first && subscribe.is_empty()) {
                progress.acked.remove(&follows);
                let change = DeltaDiscoveryRequest {
                    resource_names_subscribe: subscribe,
                    resource_names_unsubscribe: unsubscribe,
                    ..request(follows)
                };
                requests.send(change).await?;
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
