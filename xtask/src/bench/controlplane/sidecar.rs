//! One simulated sidecar: an ADS stream (state of the world or delta) that subscribes as a
//! sidecar's Envoy does — clusters and listeners by wildcard, then the endpoints and routes
//! they name — ACKs every response with its version and nonce, and reports each response and
//! each awaited endpoint change it ACKed.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use envoy_types::pb::envoy::{
    config::core::v3::Node,
    service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
};
use mesh_xds::ResourceType;
use serde::{Deserialize, Serialize};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};
use tonic::transport::{Channel, Endpoint};

use super::decode;

/// The largest response a sidecar takes: the whole mesh's clusters in one message can pass
/// tonic's default of 4 MiB.
const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// How often a sidecar tries to connect before it gives up.
const CONNECT_ATTEMPTS: u32 = 3;

/// Which ADS variant a sidecar speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// State of the world: every response holds every resource of its type the sidecar asked
    /// for.
    Sotw,
    /// Delta: responses hold what changed and name what was removed.
    Delta,
}

/// Endpoint changes the sidecars look for: cluster name → (change number, new address).
#[derive(Clone, Debug, Default)]
pub struct Awaited {
    by_cluster: HashMap<String, Vec<(usize, Ipv4Addr)>>,
}

/// What a sidecar reports.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A response arrived.
    Response {
        sidecar: usize,
        kind: ResourceType,
        received: Instant,
        /// Its protobuf encoding's size.
        bytes: usize,
        /// Its version (`version_info`, or delta's `system_version_info`).
        version: String,
    },
    /// The sidecar ACKed the first response that carried awaited change `change`.
    Applied {
        sidecar: usize,
        change: usize,
        acked: Instant,
    },
    /// Every type the sidecar asked for was answered and ACKed once.
    Synced { sidecar: usize, at: Instant },
    /// The stream failed or ended.
    Failed { sidecar: usize, error: String },
}

/// One sidecar to simulate.
#[derive(Clone, Debug)]
pub struct Sidecar {
    /// Its number in the fleet.
    pub index: usize,
    /// Its Envoy node: id and metadata.
    pub node: Node,
    /// The ADS variant it speaks.
    pub protocol: Protocol,
}

/// What every sidecar of a fleet shares.
#[derive(Clone, Debug)]
pub struct Wiring {
    /// The control plane's ADS address.
    pub xds: SocketAddr,
    /// Where events go.
    pub events: mpsc::UnboundedSender<Event>,
    /// The changes to look for, as they are announced.
    pub awaited: watch::Receiver<Arc<Awaited>>,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
}

/// The names a sidecar asks for and how far each type got.
#[derive(Debug, Default)]
pub(super) struct Progress {
    /// EDS names of the clusters it has, by cluster name.
    pub(super) clusters: HashMap<String, String>,
    /// RDS names of the listeners it has, by listener name.
    pub(super) listeners: HashMap<String, BTreeSet<String>>,
    /// EDS and RDS names asked for so far.
    pub(super) eds: BTreeSet<String>,
    pub(super) rds: BTreeSet<String>,
    /// Types ACKed since their names last changed.
    pub(super) acked: HashSet<ResourceType>,
    /// Awaited changes already seen.
    pub(super) applied: HashSet<usize>,
    pub(super) synced: bool,
}

// === impl Awaited ===

impl Awaited {
    /// Adds change `change`: `address` joins the load assignment of `cluster`.
    pub fn add(&mut self, change: usize, cluster: &str, address: Ipv4Addr) {
        self.by_cluster
            .entry(cluster.to_string())
            .or_default()
            .push((change, address));
    }

    /// The changes awaited in `cluster` that `progress` has not seen.
    fn unseen(&self, cluster: &str, applied: &HashSet<usize>) -> Vec<(usize, Ipv4Addr)> {
        self.by_cluster
            .get(cluster)
            .map_or_else(Vec::new, |changes| {
                changes
                    .iter()
                    .filter(|(change, _)| !applied.contains(change))
                    .copied()
                    .collect()
            })
    }
}

// === impl Progress ===

impl Progress {
    /// The awaited changes that the load assignment `any` of `cluster` carries, marked seen.
    pub(super) fn carried(
        &mut self,
        awaited: &Awaited,
        cluster: &str,
        any: &envoy_types::pb::google::protobuf::Any,
    ) -> anyhow::Result<Vec<usize>> {
        let unseen = awaited.unseen(cluster, &self.applied);
        if unseen.is_empty() {
            return Ok(Vec::new());
        }
        let addresses = decode::endpoint_addresses(any)
            .with_context(|| format!("decoding the endpoints of {cluster}"))?;
        let carried: Vec<usize> = unseen
            .into_iter()
            .filter(|(_, address)| addresses.contains(address))
            .map(|(change, _)| change)
            .collect();
        self.applied.extend(carried.iter().copied());
        Ok(carried)
    }

    /// The EDS names the clusters call for, if they differ from those asked for.
    pub(super) fn new_eds(&self) -> Option<BTreeSet<String>> {
        let wanted: BTreeSet<String> = self.clusters.values().cloned().collect();
        (wanted != self.eds).then_some(wanted)
    }

    /// The RDS names the listeners call for, if they differ from those asked for.
    pub(super) fn new_rds(&self) -> Option<BTreeSet<String>> {
        let wanted: BTreeSet<String> = self.listeners.values().flatten().cloned().collect();
        (wanted != self.rds).then_some(wanted)
    }

    /// Whether every type it needs was ACKed, the first time it is.
    pub(super) fn just_synced(&mut self) -> bool {
        let done = |kind, names: &BTreeSet<String>| names.is_empty() || self.acked.contains(&kind);
        let all = self.acked.contains(&ResourceType::Cluster)
            && self.acked.contains(&ResourceType::Listener)
            && done(ResourceType::ClusterLoadAssignment, &self.eds)
            && done(ResourceType::RouteConfiguration, &self.rds);
        let first = all && !self.synced;
        self.synced |= all;
        first
    }
}

/// Runs `sidecar` until its stream ends or fails (reported as [`Event::Failed`]), or until
/// nobody listens to its events.
pub async fn run(sidecar: Sidecar, wiring: Wiring) {
    let index = sidecar.index;
    let events = wiring.events.clone();
    let outcome = async {
        let client = connect(&wiring).await?;
        match sidecar.protocol {
            Protocol::Sotw => super::sotw::run(client, &sidecar, &wiring).await,
            Protocol::Delta => super::delta::run(client, &sidecar, &wiring).await,
        }
    }
    .await;
    let error = match outcome {
        Ok(()) => "the control plane ended the stream".to_string(),
        Err(error) => format!("{error:#}"),
    };
    let _ = events.send(Event::Failed {
        sidecar: index,
        error,
    });
}

async fn connect(wiring: &Wiring) -> anyhow::Result<AggregatedDiscoveryServiceClient<Channel>> {
    let endpoint = Endpoint::from_shared(format!("http://{}", wiring.xds))?
        .connect_timeout(wiring.connect_timeout)
        .tcp_nodelay(true);
    let mut last = None;
    for _ in 0..CONNECT_ATTEMPTS {
        match tokio::time::timeout(wiring.connect_timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => {
                return Ok(AggregatedDiscoveryServiceClient::new(channel)
                    .max_decoding_message_size(MAX_MESSAGE));
            }
            Ok(Err(error)) => last = Some(anyhow::Error::from(error)),
            Err(_) => {
                last = Some(anyhow::anyhow!(
                    "timed out after {:?}",
                    wiring.connect_timeout
                ))
            }
        }
    }
    let error = last.unwrap_or_else(|| anyhow::anyhow!("no attempt made"));
    Err(error.context(format!("connecting to {}", wiring.xds)))
}

/// Sends `event`; `false` when nobody listens any more and the sidecar should stop.
pub(super) fn report(wiring: &Wiring, event: Event) -> bool {
    wiring.events.send(event).is_ok()
}
