//! The [`Generator`] the xDS server asks: translation of the latest model snapshot for one
//! proxy (a sidecar's or a gateway's, by the kind its node id names), cut down to one resource
//! type and the proxy's subscription.
//!
//! A proxy asks for four types, one after the other, and every push asks again for each; the
//! translation of a proxy is therefore kept per node id until the snapshot changes, so that a
//! proxy is translated once per snapshot, not once per type. A sidecar's outbound side — the
//! bulk of it — depends only on its namespace and the labels selectors read, and is made and
//! encoded once per such group of sidecars, then shared.
//!
//! Across snapshots, what a change did not reach is kept: [`announce`](super::announce) records
//! each change's scope here, a proxy no change since its translation reached keeps that
//! translation, and a sidecar reached only for its endpoints keeps its inbound side and has only
//! the load assignments of its outbound side made again. Whatever is made again takes the
//! encoding of each type that came out equal.

mod assignments;
mod history;
mod inbound;
mod outbound;
mod parts;
pub(crate) mod secrets;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, PoisonError, RwLock},
};

use envoy_types::pb::envoy::config::core::v3::Node;
use mesh_xds::ResourceType;
use tokio::{sync::watch, time::Instant};

pub use self::parts::{EncodedResources, Part};
use self::{
    assignments::Assignments,
    history::History,
    inbound::{Assembled, InboundParts},
    outbound::OutboundCache,
};
use super::metrics::Metrics;
use crate::{
    model::Snapshot,
    translate::{self, Proxy, ProxyError, ProxyKind, Resources},
    xds::{
        Encoded, GenerateError, Generator, ProxyClass, Reach, ResourceList, Scope, Subscription,
        Target,
    },
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
    /// The load assignments of outbound sides, shared by every part that has the same one.
    assignments: Assignments,
    /// Sidecars' inbound sides and their translations' lists, shared where equal.
    inbound: InboundParts,
    /// The scopes of the latest changes.
    history: RwLock<History>,
    /// What SDS served each proxy, and what it could not.
    secrets: secrets::Served,
}

/// One proxy's configuration at one snapshot.
#[derive(Clone, Debug)]
pub struct Translated {
    /// The snapshot it was translated from.
    pub version: u64,
    /// The proxy it was translated for.
    pub proxy: Proxy,
    /// A sidecar's outbound side and its inbound side (each shared with the sidecars that have
    /// the same), or a gateway's whole configuration; with each type's list of them all.
    assembled: Arc<Assembled>,
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
        let parts = vec![Arc::new(Part::new(resources))];
        Self {
            version,
            proxy,
            assembled: InboundParts::default().assemble(parts),
        }
    }

    fn parts(&self) -> &[Arc<Part>] {
        &self.assembled.parts
    }

    /// Everything the proxy gets, each list in name order.
    pub fn resources(&self) -> Resources {
        let mut all = Resources::default();
        for part in self.parts() {
            all.append(part.resources());
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
        let mut selected: Vec<Arc<Encoded>> = (self.parts().iter())
            .flat_map(|part| part.encoded.select(resource_type, subscription))
            .collect();
        if self.parts().len() > 1 {
            selected.sort_by(|a, b| a.name().cmp(b.name()));
        }
        selected
    }

    /// Every encoded resource of one type, in name order: the very list of the part that has
    /// any, shared with every proxy of its group, or the parts' lists merged when several have
    /// (once for every proxy made of the same parts).
    pub fn list(&self, resource_type: ResourceType) -> ResourceList {
        self.assembled.list(resource_type)
    }

    /// Whether `other` is made of the very same parts: the translation was not made again.
    pub fn shares_parts_with(&self, other: &Translated) -> bool {
        let (ours, theirs) = (self.parts(), other.parts());
        ours.len() == theirs.len() && ours.iter().zip(theirs).all(|(a, b)| Arc::ptr_eq(a, b))
    }

    /// Whether its part `index` is the very same as `other`'s.
    pub fn shares_part(&self, other: &Translated, index: usize) -> bool {
        matches!((self.parts().get(index), other.parts().get(index)), (Some(a), Some(b)) if Arc::ptr_eq(a, b))
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
            assignments: Assignments::default(),
            inbound: InboundParts::default(),
            history: RwLock::new(History::default()),
            secrets: secrets::Served::default(),
        }
    }

    /// Records that the change from snapshot `from` to snapshot `to` reaches `scope`, so that
    /// translations it does not reach are kept. Must come before the change is pushed.
    pub fn record(&self, from: u64, to: u64, scope: Scope) {
        self.history
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .record(from, to, scope);
    }

    /// The control plane's metrics.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The secret names proxies asked for and were not sent, and why.
    pub fn unresolved_secrets(&self) -> serde_json::Value {
        self.secrets.report()
    }

    /// The secrets the proxy of `node_id` is sent, private keys redacted.
    pub fn dump_secrets(&self, node_id: &str) -> Result<serde_json::Value, String> {
        self.secrets.dump(&self.snapshot(), node_id)
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
        self.secrets.retain(keep);
    }

    fn translate_proxy(&self, node_id: &str, proxy: Proxy) -> Result<Translated, TranslateError> {
        let snapshot = self.snapshot();
        let version = snapshot.version();
        let cached = self.read(|cache| cache.get(node_id).filter(|t| t.proxy == proxy).cloned());
        if let Some(translated) = cached.as_ref().filter(|t| t.version == version) {
            return Ok(translated.clone());
        }
        let reach = cached.as_ref().map_or(Reach::All, |t| {
            self.reach(t.version, version, &target(&proxy))
        });
        // Two streams of one proxy may both get here and translate; the result is the same,
        // and holding the lock across translation would stall every other proxy.
        let assembled = match (cached, reach) {
            // No change since reached it: what it has is what it would get.
            (Some(cached), Reach::None) => cached.assembled,
            (cached, reach) => {
                let start = Instant::now();
                let previous = |index: usize| cached.as_ref().and_then(|t| t.parts().get(index));
                let parts = match proxy.kind {
                    ProxyKind::Sidecar => {
                        let outbound = self.outbound_part(&snapshot, &proxy);
                        // The inbound side reads the workload's own endpoints and the services
                        // they serve: a change that reached the proxy for endpoints alone left
                        // it as it was.
                        let inbound = match previous(1) {
                            Some(inbound) if reach == Reach::Endpoints => Arc::clone(inbound),
                            before => self.inbound.share(Part::reusing(
                                translate::sidecar_inbound(&snapshot, &proxy),
                                before.map(Arc::as_ref),
                            )),
                        };
                        vec![outbound, inbound]
                    }
                    ProxyKind::Router => vec![Arc::new(Part::reusing(
                        translate::gateway(&snapshot, &proxy),
                        previous(0).map(Arc::as_ref),
                    ))],
                };
                self.metrics.translated(start.elapsed());
                self.inbound.assemble(parts)
            }
        };
        let translated = Translated {
            version,
            proxy,
            assembled,
        };
        self.write(|cache| {
            let newer = cache.get(node_id).is_some_and(|t| t.version > version);
            if !newer {
                cache.insert(node_id.to_string(), translated.clone());
            }
        });
        Ok(translated)
    }

    /// How far the changes from snapshot `from` to snapshot `to` reach `target`.
    fn reach(&self, from: u64, to: u64, target: &Target) -> Reach {
        self.history
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .reach(from, to, target)
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
        let list = self.generate_list(node, resource_type, subscription)?;
        let subscribed = list.iter().filter(|r| subscription.contains(r.name()));
        Ok(subscribed.cloned().collect())
    }

    /// Every resource of the type the proxy gets: for a sidecar's load assignments and routes,
    /// the very list of its group's outbound side (secrets: those `subscription` names).
    fn generate_list(
        &self,
        node: &Node,
        resource_type: ResourceType,
        subscription: &Subscription,
    ) -> Result<ResourceList, GenerateError> {
        if resource_type == ResourceType::Secret {
            let namespace = crate::xds::generator::node_namespace(node);
            let snapshot = self.snapshot();
            let secrets = &self.secrets;
            let served = secrets.generate(&snapshot, &node.id, namespace.as_deref(), subscription);
            return Ok(ResourceList::new(served));
        }
        match self.translate(node) {
            Ok(translated) => Ok(translated.list(resource_type)),
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

/// What scopes know of a proxy.
fn target(proxy: &Proxy) -> Target {
    Target {
        class: Some(match proxy.kind {
            ProxyKind::Sidecar => ProxyClass::Sidecar,
            ProxyKind::Router => ProxyClass::Router,
        }),
        namespace: Some(proxy.namespace.clone()),
        ips: proxy.ips.clone(),
    }
}

#[cfg(test)]
mod tests;
