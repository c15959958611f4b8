//! The published configuration and the one place that swaps it.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use arc_swap::ArcSwap;
use envoy_types::pb::envoy::config::{cluster::v3::Cluster, listener::v3::Listener};
use tokio::sync::watch;

use super::{ClusterConfig, ListenerConfig};
use crate::{
    balance::EndpointSet,
    route::RouteTable,
    tls::{DynamicSecrets, StaticSecrets},
};

/// Everything the data path reads, at one moment. Immutable: an update builds the next one.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Listeners by name (LDS and static).
    pub listeners: HashMap<String, Arc<ListenerConfig>>,
    /// Route tables by name (RDS).
    pub routes: HashMap<String, Arc<RouteTable>>,
    /// Clusters by name (CDS and static).
    pub clusters: HashMap<String, Arc<ClusterConfig>>,
    /// Endpoints by cluster name: EDS assignments, and the resolved endpoints of static and DNS
    /// clusters. A cluster without an entry here is still warming.
    pub endpoints: HashMap<String, Arc<EndpointSet>>,
    /// The version last applied per xDS type URL, for `config_dump` and metrics.
    pub versions: HashMap<&'static str, String>,
    /// Secrets received over SDS, checked, by name: those the clusters and listeners reference.
    pub secrets: DynamicSecrets,
    /// The bootstrap's `static_resources.secrets`: what a reference without `sds_config`
    /// names, in static and xDS resources alike.
    pub static_secrets: Arc<StaticSecrets>,
    /// The active clusters whose TLS references secrets over SDS, as received, so that a
    /// secret update can rebuild their TLS.
    pub sds_clusters: HashMap<String, Arc<SdsCluster>>,
    /// Clusters waiting for SDS secrets, by name. Not usable (unknown to routes, `NC`) until
    /// their secrets arrive; an updated cluster's previous version stays in `clusters`
    /// meanwhile, as in Envoy.
    pub warming_clusters: HashMap<String, Arc<WarmingCluster>>,
    /// The active listeners whose filter chains' TLS references secrets over SDS, as
    /// received, so that a secret update can rebuild the TLS of the chains using it.
    pub sds_listeners: HashMap<String, Arc<SdsListener>>,
    /// Listeners waiting for SDS secrets, by name. Not bound until their secrets arrive; an
    /// updated listener's previous version keeps serving in `listeners` meanwhile, as in Envoy.
    pub warming_listeners: HashMap<String, Arc<WarmingListener>>,
}

/// A cluster whose TLS references secrets over SDS.
#[derive(Clone)]
pub struct SdsCluster {
    /// The cluster as received; its references are resolved anew when a secret changes.
    pub cluster: Cluster,
    /// The names of the secrets it references over SDS.
    pub secrets: BTreeSet<String>,
}

/// A cluster that waits for SDS secrets.
#[derive(Clone, Debug)]
pub struct WarmingCluster {
    /// The cluster and what it references.
    pub sds: Arc<SdsCluster>,
    /// The referenced secrets that have not arrived.
    pub missing: BTreeSet<String>,
    /// The assignment its endpoints come from, for an EDS cluster.
    pub eds_service: Option<String>,
    /// Its endpoints so far (static, resolved, or from EDS while it warms), taken along when
    /// it becomes active.
    pub endpoints: Option<Arc<EndpointSet>>,
}

/// A listener whose filter chains' TLS references secrets over SDS.
#[derive(Clone)]
pub struct SdsListener {
    /// The listener as received; its references are resolved anew when a secret changes.
    pub listener: Listener,
    /// The names of the secrets its chains reference over SDS.
    pub secrets: BTreeSet<String>,
}

/// A listener that waits for SDS secrets.
#[derive(Clone, Debug)]
pub struct WarmingListener {
    /// The listener and what it references.
    pub sds: Arc<SdsListener>,
    /// The referenced secrets that have not arrived.
    pub missing: BTreeSet<String>,
    /// The route configurations its chains fetch over RDS, subscribed while it warms so that
    /// it has them when it starts serving.
    pub routes: BTreeSet<String>,
}

/// Holds the current [`Snapshot`] and tells watchers when it changes.
#[derive(Debug)]
pub struct ConfigStore {
    current: ArcSwap<Snapshot>,
    changed: watch::Sender<u64>,
}

// Never prints the cluster: its TLS may hold an inline key.
impl std::fmt::Debug for SdsCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdsCluster")
            .field("name", &self.cluster.name)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

// Never prints the listener: its TLS may hold an inline key.
impl std::fmt::Debug for SdsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SdsListener")
            .field("name", &self.listener.name)
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

// === impl ConfigStore ===

impl ConfigStore {
    /// A store that starts from `initial` (usually the bootstrap's static resources).
    pub fn new(initial: Snapshot) -> Self {
        Self {
            current: ArcSwap::from_pointee(initial),
            changed: watch::Sender::new(0),
        }
    }

    /// The current snapshot; cheap, lock-free.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Applies `update` to a copy of the current snapshot and publishes the result, unless
    /// `update` fails, in which case nothing changes. Writers are the xDS client's single task,
    /// so updates do not race; `rcu` keeps that true even if they did.
    pub fn update<E>(&self, update: impl Fn(&mut Snapshot) -> Result<(), E>) -> Result<(), E> {
        let mut failure = None;
        self.current.rcu(|current| {
            let mut next = Snapshot::clone(current);
            match update(&mut next) {
                Ok(()) => Arc::new(next),
                Err(error) => {
                    failure = Some(error);
                    Arc::clone(current)
                }
            }
        });
        match failure {
            Some(error) => Err(error),
            None => {
                self.changed.send_modify(|generation| *generation += 1);
                Ok(())
            }
        }
    }

    /// A receiver that is marked changed on every published update.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
