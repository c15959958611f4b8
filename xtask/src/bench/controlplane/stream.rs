//! The loop of a simulated sidecar's ADS stream, shared by both variants: read a response,
//! note the clusters and listeners it brings, ACK it, report the awaited changes it carried,
//! ask for the endpoints and routes that new clusters and listeners name, and report the first
//! full sync. What differs between state of the world and delta — the messages, what an ACK
//! and a change of names hold — is a [`Variant`].

use std::{collections::BTreeSet, future::Future};

use anyhow::Context as _;
use envoy_types::pb::{
    envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
    google::protobuf::Any,
};
use mesh_xds::ResourceType;
use tokio::{sync::mpsc, time::Instant};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Streaming, transport::Channel};

use super::{
    decode,
    sidecar::{Event, Progress, Sidecar, Wiring, report},
};

/// Requests in flight on one stream: a sidecar sends at most an ACK and a resubscription per
/// response.
const REQUESTS: usize = 16;

/// One ADS variant, as the shared loop drives it.
pub(super) trait Variant: Send {
    // Sent on the stream from the fleet's tasks; `Sync` for anyhow to carry a failed send.
    type Request: Send + Sync + 'static;
    type Response: Send + 'static;

    /// The stream's name in errors.
    const STREAM: &'static str;

    /// Opens the variant's stream on `client`, fed by `requests`.
    fn open(
        client: AggregatedDiscoveryServiceClient<Channel>,
        requests: ReceiverStream<Self::Request>,
    ) -> impl Future<Output = Result<tonic::Response<Streaming<Self::Response>>, tonic::Status>> + Send;

    /// The first request for `kind`: no names, the wildcard, as Envoy asks for clusters and
    /// listeners.
    fn wildcard(&mut self, kind: ResourceType) -> Self::Request;

    /// What the loop needs of `response`.
    fn read(response: &Self::Response) -> Read<'_>;

    /// The ACK of `response`, of type `kind`, whose names are now `names`.
    fn ack(
        &mut self,
        kind: ResourceType,
        response: &Read<'_>,
        names: &BTreeSet<String>,
    ) -> Self::Request;

    /// The request that changes the names asked for of `kind` from `had` to `wanted`, if one
    /// is to be sent.
    fn resubscribe(
        &mut self,
        kind: ResourceType,
        had: &BTreeSet<String>,
        wanted: &BTreeSet<String>,
    ) -> Option<Self::Request>;
}

/// A response, as both variants carry it.
#[derive(Debug)]
pub(super) struct Read<'a> {
    pub(super) type_url: &'a str,
    /// `version_info`, or delta's `system_version_info`.
    pub(super) version: &'a str,
    pub(super) nonce: &'a str,
    /// The protobuf encoding's size.
    pub(super) bytes: usize,
    /// Whether it holds every resource of its type (state of the world): one it leaves out is
    /// gone.
    pub(super) complete: bool,
    pub(super) resources: Vec<Resource<'a>>,
    /// Names removed (delta).
    pub(super) removed: &'a [String],
}

/// One resource of a response.
#[derive(Debug)]
pub(super) struct Resource<'a> {
    /// Its name when the response says it (delta); else it is decoded, only when needed.
    pub(super) name: Option<&'a str>,
    pub(super) any: &'a Any,
}

// === impl Resource ===

impl Resource<'_> {
    fn name(&self) -> anyhow::Result<String> {
        match self.name {
            Some(name) => Ok(name.to_string()),
            None => Ok(decode::packed_name(self.any)?),
        }
    }
}

/// Opens `variant`'s stream on `client` and runs it until the control plane ends it (`Ok`) or
/// it fails.
pub(super) async fn run<V: Variant>(
    mut variant: V,
    client: AggregatedDiscoveryServiceClient<Channel>,
    sidecar: &Sidecar,
    wiring: &Wiring,
) -> anyhow::Result<()> {
    let (requests, receiver) = mpsc::channel(REQUESTS);
    let mut responses = V::open(client, ReceiverStream::new(receiver))
        .await
        .with_context(|| format!("opening the {}", V::STREAM))?
        .into_inner();
    let mut progress = Progress::default();
    for kind in [ResourceType::Cluster, ResourceType::Listener] {
        requests.send(variant.wildcard(kind)).await?;
    }
    while let Some(response) = responses.message().await.context("reading the stream")? {
        let received = Instant::now();
        let response = V::read(&response);
        let kind = ResourceType::from_type_url(response.type_url)
            .with_context(|| format!("a response of unknown type {}", response.type_url))?;
        let event = Event::Response {
            sidecar: sidecar.index,
            kind,
            received,
            bytes: response.bytes,
            version: response.version.to_string(),
        };
        if !report(wiring, event) {
            return Ok(());
        }
        let carried = note(&mut progress, wiring, kind, &response)?;
        let ack = variant.ack(kind, &response, names(&progress, kind));
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
        // New clusters or listeners change the names of the endpoints or routes to ask for.
        let (follows, wanted) = match kind {
            ResourceType::Cluster => (ResourceType::ClusterLoadAssignment, progress.new_eds()),
            ResourceType::Listener => (ResourceType::RouteConfiguration, progress.new_rds()),
            _ => (kind, None),
        };
        if let Some(wanted) = wanted {
            let change = variant.resubscribe(follows, names(&progress, follows), &wanted);
            match follows {
                ResourceType::ClusterLoadAssignment => progress.eds = wanted,
                _ => progress.rds = wanted,
            }
            if let Some(change) = change {
                progress.acked.remove(&follows);
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

/// The names asked for of `kind`: the endpoints and routes by name, the rest by wildcard.
fn names(progress: &Progress, kind: ResourceType) -> &BTreeSet<String> {
    static WILDCARD: BTreeSet<String> = BTreeSet::new();
    match kind {
        ResourceType::ClusterLoadAssignment => &progress.eds,
        ResourceType::RouteConfiguration => &progress.rds,
        _ => &WILDCARD,
    }
}

/// Notes the clusters and listeners `response` brings; returns the awaited changes its
/// endpoints carry.
fn note(
    progress: &mut Progress,
    wiring: &Wiring,
    kind: ResourceType,
    response: &Read<'_>,
) -> anyhow::Result<Vec<usize>> {
    let mut carried = Vec::new();
    match kind {
        ResourceType::Cluster => {
            if response.complete {
                progress.clusters.clear();
            }
            for resource in &response.resources {
                match decode::eds_name(resource.any)? {
                    Some(eds) => {
                        progress.clusters.insert(resource.name()?, eds);
                    }
                    // After a complete response's clear, there is nothing to remove.
                    None if !response.complete => {
                        progress.clusters.remove(&resource.name()?);
                    }
                    None => {}
                }
            }
            for name in response.removed {
                progress.clusters.remove(name);
            }
        }
        ResourceType::ClusterLoadAssignment => {
            let awaited = wiring.awaited.borrow().clone();
            for resource in &response.resources {
                let cluster = resource.name()?;
                carried.extend(progress.carried(&awaited, &cluster, resource.any)?);
            }
        }
        ResourceType::Listener => {
            if response.complete {
                progress.listeners.clear();
            }
            for resource in &response.resources {
                let name = resource.name()?;
                progress
                    .listeners
                    .insert(name, decode::route_names(resource.any)?);
            }
            for name in response.removed {
                progress.listeners.remove(name);
            }
        }
        ResourceType::RouteConfiguration | ResourceType::Secret => {}
    }
    Ok(carried)
}
