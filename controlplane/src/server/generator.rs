//! The [`Generator`] the xDS server asks: translation of the latest model snapshot for one
//! proxy (a sidecar's or a gateway's, by the kind its node id names), cut down to one resource
//! type and the proxy's subscription.
//!
//! A proxy asks for four types, one after the other, and every push asks again for each; the
//! translation of a proxy is therefore kept per node id until the snapshot changes, so that a
//! proxy is translated once per snapshot, not once per type. A sidecar's outbound side — the
//! bulk of it — depends only on its namespace and the labels selectors read, and is made and
//! encoded once per such group of sidecars, then shared.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, PoisonError, RwLock},
};

use envoy_types::pb::envoy::config::core::v3::Node;
use mesh_xds::{Resource, ResourceType};
use tokio::{sync::watch, time::Instant};

use super::metrics::Metrics;
use crate::{
    model::Snapshot,
    translate::{
        self, OutboundKey, Proxy, ProxyError, ProxyKind, Resources, outbound_key,
        selected_label_keys,
    },
    xds::{Changed, Encoded, GenerateError, Generator, Scope, StatusRegistry, Subscription},
};

/// Translates the latest snapshot of a store for each proxy that asks.
#[derive(Debug)]
pub struct ModelGenerator {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    metrics: Arc<Metrics>,
    /// The last translation of each proxy, by node id.
    cache: RwLock<BTreeMap<String, Translated>>,
    /// The outbound sides of sidecars at one snapshot, shared by the sidecars of each key.
    outbound: RwLock<OutboundCache>,
}

/// Outbound sides made at one snapshot.
#[derive(Debug, Default)]
struct OutboundCache {
    /// The snapshot they were made at (compared by identity: equal versions do not make
    /// equal snapshots in tests that build them by hand).
    snapshot: Option<Arc<Snapshot>>,
    /// The label keys the snapshot's selectors read.
    selected: Arc<BTreeSet<String>>,
    parts: HashMap<OutboundKey, Arc<Part>>,
}

/// One proxy's configuration at one snapshot.
#[derive(Clone, Debug)]
pub struct Translated {
    /// The snapshot it was translated from.
    pub version: u64,
    /// The proxy it was translated for.
    pub proxy: Proxy,
    /// A sidecar's shared outbound side and its own inbound side, or a gateway's whole
    /// configuration.
    parts: Vec<Arc<Part>>,
}

/// Resources translated together, and encoded for the wire once.
#[derive(Debug)]
pub struct Part {
    resources: Resources,
    encoded: EncodedResources,
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
    /// The translation of `proxy` at snapshot `version`, made of one part.
    pub fn new(version: u64, proxy: Proxy, resources: Resources) -> Self {
        Self {
            version,
            proxy,
            parts: vec![Arc::new(Part::new(resources))],
        }
    }

    /// Everything the proxy gets, each list in name order.
    pub fn resources(&self) -> Resources {
        let mut all = Resources::default();
        for part in &self.parts {
            all.append(part.resources.clone());
        }
        all.sort();
        all
    }

    /// The encoded resources of one type that `subscription` names, in name order.
    pub fn select(
        &self,
        resource_type: ResourceType,
        subscription: &Subscription,
    ) -> Vec<Arc<Encoded>> {
        let mut selected: Vec<Arc<Encoded>> = self
            .parts
            .iter()
            .flat_map(|part| part.encoded.select(resource_type, subscription))
            .collect();
        if self.parts.len() > 1 {
            selected.sort_by(|a, b| a.name().cmp(b.name()));
        }
        selected
    }

    /// Whether `other` is made of the very same parts: the translation was not made again.
    pub fn shares_parts_with(&self, other: &Translated) -> bool {
        self.parts.len() == other.parts.len()
            && self
                .parts
                .iter()
                .zip(&other.parts)
                .all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// Whether its part `index` is the very same as `other`'s.
    pub fn shares_part(&self, other: &Translated, index: usize) -> bool {
        matches!((self.parts.get(index), other.parts.get(index)), (Some(a), Some(b)) if Arc::ptr_eq(a, b))
    }
}

// === impl Part ===

impl Part {
    fn new(resources: Resources) -> Self {
        Self {
            encoded: EncodedResources::new(&resources),
            resources,
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
            outbound: RwLock::new(OutboundCache::default()),
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
        let parts = match proxy.kind {
            ProxyKind::Sidecar => vec![
                self.outbound_part(&snapshot, &proxy),
                Arc::new(Part::new(translate::sidecar_inbound(&snapshot, &proxy))),
            ],
            ProxyKind::Router => vec![Arc::new(Part::new(translate::gateway(&snapshot, &proxy)))],
        };
        self.metrics.translated(start.elapsed());
        let translated = Translated {
            version,
            proxy,
            parts,
        };
        self.write(|cache| {
            let newer = cache.get(node_id).is_some_and(|t| t.version > version);
            if !newer {
                cache.insert(node_id.to_string(), translated.clone());
            }
        });
        Ok(translated)
    }

    /// The outbound side of `proxy` at `snapshot`: made once per outbound key and snapshot.
    fn outbound_part(&self, snapshot: &Arc<Snapshot>, proxy: &Proxy) -> Arc<Part> {
        let same = |cache: &OutboundCache| {
            cache
                .snapshot
                .as_ref()
                .is_some_and(|cached| Arc::ptr_eq(cached, snapshot))
        };
        let (selected, cached) = {
            let cache = self.outbound.read().unwrap_or_else(PoisonError::into_inner);
            if same(&cache) {
                let key = outbound_key(proxy, &cache.selected);
                (Some(cache.selected.clone()), cache.parts.get(&key).cloned())
            } else {
                (None, None)
            }
        };
        if let Some(part) = cached {
            return part;
        }
        let selected = selected.unwrap_or_else(|| Arc::new(selected_label_keys(snapshot)));
        let key = outbound_key(proxy, &selected);
        // As for whole translations, two sidecars of one key may both make it; same result.
        let part = Arc::new(Part::new(translate::sidecar_outbound(
            snapshot,
            &key.representative(),
        )));
        let mut cache = self
            .outbound
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if same(&cache) {
            cache.parts.entry(key).or_insert_with(|| part.clone());
        } else if cache
            .snapshot
            .as_ref()
            .is_none_or(|cached| cached.version() <= snapshot.version())
        {
            // A newer snapshot: what was made at the older one is of no more use.
            *cache = OutboundCache {
                snapshot: Some(snapshot.clone()),
                selected,
                parts: HashMap::from([(key, part.clone())]),
            };
        }
        part
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
            Ok(translated) => Ok(translated.select(resource_type, subscription)),
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
