//! The [`Generator`] the xDS server asks: translation of the latest model snapshot for one
//! proxy (a sidecar's or a gateway's, by the kind its node id names), cut down to one resource
//! type and the proxy's subscription.
//!
//! A proxy asks for four types, one after the other, and every push asks again for each; the
//! translation of a proxy is therefore kept per node id until the snapshot changes, so that a
//! proxy is translated once per snapshot, not once per type.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, PoisonError, RwLock},
};

use envoy_types::pb::envoy::config::core::v3::Node;
use mesh_xds::{Resource, ResourceType};
use tokio::{sync::watch, time::Instant};

use super::metrics::Metrics;
use crate::{
    model::Snapshot,
    translate::{self, Proxy, ProxyError, ProxyKind, Resources},
    xds::{Changed, Encoded, GenerateError, Generator, Scope, StatusRegistry, Subscription},
};

/// Translates the latest snapshot of a store for each proxy that asks.
#[derive(Debug)]
pub struct ModelGenerator {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    metrics: Arc<Metrics>,
    /// The last translation of each proxy, by node id.
    cache: RwLock<BTreeMap<String, Translated>>,
}

/// One proxy's configuration at one snapshot.
#[derive(Clone, Debug)]
pub struct Translated {
    /// The snapshot it was translated from.
    pub version: u64,
    /// The proxy it was translated for.
    pub proxy: Proxy,
    pub resources: Arc<Resources>,
    /// The same, encoded for the wire once, for every response that carries them.
    pub encoded: Arc<EncodedResources>,
}

/// A translation encoded for the wire, type by type, in name order.
#[derive(Debug, Default)]
pub struct EncodedResources {
    clusters: Vec<Arc<Encoded>>,
    endpoints: Vec<Arc<Encoded>>,
    listeners: Vec<Arc<Encoded>>,
    routes: Vec<Arc<Encoded>>,
}

/// Why a proxy gets no configuration.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// Its node does not say what it is.
    #[error(transparent)]
    Node(#[from] ProxyError),
}

// === impl Translated ===

impl Translated {
    /// The translation of `proxy` at snapshot `version`, encoded for the wire.
    pub fn new(version: u64, proxy: Proxy, resources: Resources) -> Self {
        Self {
            version,
            proxy,
            encoded: Arc::new(EncodedResources::new(&resources)),
            resources: Arc::new(resources),
        }
    }
}

// === impl ModelGenerator ===

impl ModelGenerator {
    /// A generator serving the latest of `snapshots`.
    pub fn new(snapshots: watch::Receiver<Arc<Snapshot>>, metrics: Arc<Metrics>) -> Self {
        Self {
            snapshots,
            metrics,
            cache: RwLock::new(BTreeMap::new()),
        }
    }

    /// The snapshot proxies are served from now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }

    /// Everything `node` gets at the latest snapshot.
    pub fn translate(&self, node: &Node) -> Result<Translated, TranslateError> {
        let proxy = Proxy::from_node(node)?;
        self.translate_proxy(&node.id, proxy)
    }

    /// Everything the proxy of `node_id` gets at the latest snapshot, if that proxy asked for
    /// configuration since the last change of the snapshot or is still connected.
    pub fn translate_known(&self, node_id: &str) -> Option<Result<Translated, TranslateError>> {
        let proxy = self.read(|cache| cache.get(node_id).map(|t| t.proxy.clone()))?;
        Some(self.translate_proxy(node_id, proxy))
    }

    /// Forgets the translations of proxies `keep` does not name, so that the cache does not
    /// outgrow the proxies connected.
    pub fn retain(&self, keep: &BTreeSet<String>) {
        self.write(|cache| cache.retain(|id, _| keep.contains(id)));
    }

    fn translate_proxy(&self, node_id: &str, proxy: Proxy) -> Result<Translated, TranslateError> {
        let snapshot = self.snapshot();
        let version = snapshot.version();
        let cached = self.read(|cache| {
            cache
                .get(node_id)
                .filter(|t| t.version == version && t.proxy == proxy)
                .cloned()
        });
        if let Some(translated) = cached {
            return Ok(translated);
        }
        // Two streams of one proxy may both get here and translate; the result is the same,
        // and holding the lock across translation would stall every other proxy.
        let start = Instant::now();
        let resources = match proxy.kind {
            ProxyKind::Sidecar => translate::sidecar(&snapshot, &proxy),
            ProxyKind::Router => translate::gateway(&snapshot, &proxy),
        };
        self.metrics.translated(start.elapsed());
        let translated = Translated::new(version, proxy, resources);
        self.write(|cache| {
            let newer = cache.get(node_id).is_some_and(|t| t.version > version);
            if !newer {
                cache.insert(node_id.to_string(), translated.clone());
            }
        });
        Ok(translated)
    }

    fn read<T>(&self, f: impl FnOnce(&BTreeMap<String, Translated>) -> T) -> T {
        // The cache holds only finished entries: one left by a panicking thread is still whole.
        f(&self.cache.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut BTreeMap<String, Translated>) -> T) -> T {
        f(&mut self.cache.write().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Generator for ModelGenerator {
    fn generate(
        &self,
        node: &Node,
        resource_type: ResourceType,
        subscription: &Subscription,
    ) -> Result<Vec<Arc<Encoded>>, GenerateError> {
        match self.translate(node) {
            Ok(translated) => Ok(translated.encoded.select(resource_type, subscription)),
            Err(error) => {
                self.metrics.push_failed(resource_type);
                Err(GenerateError {
                    node_id: node.id.clone(),
                    resource_type,
                    reason: error.to_string(),
                })
            }
        }
    }
}

// === impl EncodedResources ===

impl EncodedResources {
    /// Encodes every resource of `resources`.
    pub fn new(resources: &Resources) -> Self {
        fn encode<T: Clone + Into<Resource>>(items: &[T]) -> Vec<Arc<Encoded>> {
            Encoded::all(items.iter().cloned().map(Into::into))
        }
        Self {
            clusters: encode(&resources.clusters),
            endpoints: encode(&resources.endpoints),
            listeners: encode(&resources.listeners),
            routes: encode(&resources.routes),
        }
    }

    /// The resources of one type that `subscription` names.
    pub fn select(
        &self,
        resource_type: ResourceType,
        subscription: &Subscription,
    ) -> Vec<Arc<Encoded>> {
        let of_type: &[Arc<Encoded>] = match resource_type {
            ResourceType::Cluster => &self.clusters,
            ResourceType::ClusterLoadAssignment => &self.endpoints,
            ResourceType::Listener => &self.listeners,
            ResourceType::RouteConfiguration => &self.routes,
            // Certificates are not served over xDS yet.
            ResourceType::Secret => &[],
        };
        of_type
            .iter()
            .filter(|resource| subscription.contains(resource.name()))
            .cloned()
            .collect()
    }
}

/// Announces each snapshot `snapshots` has not seen yet on `changes`, as a change to every
/// proxy, and trims `generator`'s cache to the proxies `status` lists. Returns when the store
/// is gone.
///
/// Every proxy is in scope of every change: telling which proxies a change affects needs a
/// dependency index of services and config per proxy, which the model does not keep yet. The
/// debouncer still coalesces bursts, and a proxy whose resources did not change is sent
/// nothing, since the xDS server compares versions.
pub async fn announce(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    changes: watch::Sender<Changed>,
    generator: Arc<ModelGenerator>,
    status: Arc<StatusRegistry>,
) {
    while snapshots.changed().await.is_ok() {
        snapshots.borrow_and_update();
        let connected = status
            .snapshot()
            .proxies
            .into_iter()
            .map(|proxy| proxy.node_id)
            .collect();
        generator.retain(&connected);
        changes.send_modify(|changed| {
            changed.version += 1;
            changed.scope = Scope::All;
        });
    }
}

#[cfg(test)]
mod tests;
