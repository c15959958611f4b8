//! The published configuration and the one place that swaps it.

use std::{collections::HashMap, sync::Arc};

use arc_swap::ArcSwap;
use tokio::sync::watch;

use super::{ClusterConfig, ListenerConfig};
use crate::{balance::EndpointSet, route::RouteTable};

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
}

/// Holds the current [`Snapshot`] and tells watchers when it changes.
#[derive(Debug)]
pub struct ConfigStore {
    current: ArcSwap<Snapshot>,
    changed: watch::Sender<u64>,
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
