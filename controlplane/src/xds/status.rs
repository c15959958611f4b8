//! Who is connected and how far each proxy got, for `/debug/syncz` and `meshctl proxy-status`.
//!
//! Streams write their progress here after every request and response; readers take a
//! [`StatusSnapshot`]. The lock is held only to copy a few strings, never across an await.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use mesh_xds::ResourceType;
use serde::Serialize;

use super::{protocol::Progress, scope::Reach};

/// The shared registry of connected proxies, and counters over all of them.
#[derive(Debug, Default)]
pub struct StatusRegistry {
    connections: RwLock<BTreeMap<u64, ProxyStatus>>,
    next_connection: AtomicU64,
    pushes: [AtomicU64; ResourceType::ALL.len()],
    nacks: [AtomicU64; ResourceType::ALL.len()],
    /// Per change and stream, how far the change reached it: every type, endpoints, nothing.
    reached: [AtomicU64; REACHES.len()],
}

/// Every [`Reach`], in the order of the `reached` counters (see [`Registration::reached`]).
const REACHES: [Reach; 3] = [Reach::All, Reach::Endpoints, Reach::None];

/// Everything the registry knows, at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusSnapshot {
    /// One entry per stream, ordered by connection.
    pub proxies: Vec<ProxyStatus>,
    /// Responses sent, by type short name (`mesh_controlplane_xds_pushes_total{type}`).
    pub pushes_total: BTreeMap<&'static str, u64>,
    /// NACKs received, by type short name (`mesh_controlplane_xds_nacks_total{type}`).
    pub nacks_total: BTreeMap<&'static str, u64>,
    /// Config changes seen by a stream, by how far each reached its proxy: `all` (every type
    /// regenerated), `endpoints` (load assignments alone), `skipped` (nothing)
    /// (`mesh_controlplane_xds_proxy_pushes_total{scope}`).
    pub reached_total: BTreeMap<&'static str, u64>,
}

/// One connected proxy stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProxyStatus {
    /// The proxy's node id.
    pub node_id: String,
    /// Which ADS variant it speaks: `sotw` or `delta`.
    pub protocol: &'static str,
    /// Progress per type short name (`Cluster`), for the types it asked for.
    pub types: BTreeMap<&'static str, TypeStatus>,
}

/// How far a proxy got with one resource type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TypeStatus {
    /// The version of the last response.
    pub version_sent: Option<String>,
    /// The nonce of the last response, which the proxy's next request of the type answers.
    pub nonce: Option<String>,
    /// The last version the proxy accepted.
    pub version_acked: Option<String>,
    /// The error of the last NACK, until the next ACK.
    pub last_nack: Option<String>,
    /// When the last response was sent, in milliseconds since the Unix epoch.
    pub last_push_unix_ms: Option<u64>,
}

/// A stream's entry in the registry, removed when the stream ends.
#[derive(Debug)]
pub struct Registration {
    registry: Arc<StatusRegistry>,
    id: u64,
}

// === impl StatusRegistry ===

impl StatusRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a stream; it is listed once its proxy is known, until the guard drops.
    pub fn register(self: &Arc<Self>) -> Registration {
        Registration {
            registry: Arc::clone(self),
            id: self.next_connection.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The number of listed proxy streams (`mesh_controlplane_xds_connected_proxies`).
    pub fn connected_proxies(&self) -> usize {
        self.read(|connections| connections.len())
    }

    /// A copy of everything.
    pub fn snapshot(&self) -> StatusSnapshot {
        let count = |counters: &[AtomicU64; ResourceType::ALL.len()]| {
            ResourceType::ALL
                .iter()
                .zip(counters)
                .map(|(kind, counter)| (kind.short_name(), counter.load(Ordering::Relaxed)))
                .collect()
        };
        StatusSnapshot {
            proxies: self.read(|connections| connections.values().cloned().collect()),
            pushes_total: count(&self.pushes),
            nacks_total: count(&self.nacks),
            reached_total: REACHES
                .iter()
                .zip(&self.reached)
                .map(|(reach, counter)| (reach.label(), counter.load(Ordering::Relaxed)))
                .collect(),
        }
    }

    fn read<T>(&self, f: impl FnOnce(&BTreeMap<u64, ProxyStatus>) -> T) -> T {
        // A panic elsewhere cannot leave a half-written entry that matters: take it anyway.
        f(&self
            .connections
            .read()
            .unwrap_or_else(PoisonError::into_inner))
    }

    fn write<T>(&self, f: impl FnOnce(&mut BTreeMap<u64, ProxyStatus>) -> T) -> T {
        f(&mut self
            .connections
            .write()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

/// The position of `kind` in `ResourceType::ALL`, which the counter arrays follow.
fn index(kind: ResourceType) -> usize {
    match kind {
        ResourceType::Cluster => 0,
        ResourceType::ClusterLoadAssignment => 1,
        ResourceType::Listener => 2,
        ResourceType::RouteConfiguration => 3,
        ResourceType::Secret => 4,
    }
}

// === impl Registration ===

impl Registration {
    /// Counts a response of `kind` and stamps its time.
    pub fn pushed(&self, kind: ResourceType) {
        self.registry.pushes[index(kind)].fetch_add(1, Ordering::Relaxed);
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|since| u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
            .ok();
        self.registry.write(|connections| {
            if let Some(status) = connections
                .get_mut(&self.id)
                .and_then(|proxy| proxy.types.get_mut(kind.short_name()))
            {
                status.last_push_unix_ms = now;
            }
        });
    }

    /// Counts a NACK of `kind`.
    pub fn nacked(&self, kind: ResourceType) {
        self.registry.nacks[index(kind)].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a config change that reached the stream's proxy as far as `reach`.
    pub fn reached(&self, reach: Reach) {
        let position = match reach {
            Reach::All => 0,
            Reach::Endpoints => 1,
            Reach::None => 2,
        };
        self.registry.reached[position].fetch_add(1, Ordering::Relaxed);
    }

    /// Records the proxy and its progress per type, keeping push times already stamped.
    pub fn update<'p>(
        &self,
        node_id: &str,
        protocol: &'static str,
        progress: impl IntoIterator<Item = (ResourceType, &'p Progress)>,
    ) {
        self.registry.write(|connections| {
            let proxy = connections.entry(self.id).or_insert_with(|| ProxyStatus {
                node_id: node_id.to_string(),
                protocol,
                types: BTreeMap::new(),
            });
            for (kind, progress) in progress {
                let status = proxy.types.entry(kind.short_name()).or_insert(TypeStatus {
                    version_sent: None,
                    nonce: None,
                    version_acked: None,
                    last_nack: None,
                    last_push_unix_ms: None,
                });
                status.version_sent.clone_from(&progress.version_sent);
                status.nonce.clone_from(&progress.nonce);
                status.version_acked.clone_from(&progress.version_acked);
                status.last_nack.clone_from(&progress.last_nack);
            }
        });
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry
            .write(|connections| connections.remove(&self.id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_follow_the_order_of_all() {
        for (position, kind) in ResourceType::ALL.into_iter().enumerate() {
            assert_eq!(index(kind), position, "{kind:?}");
        }
    }

    #[test]
    fn a_stream_is_listed_from_its_first_update_until_dropped() {
        let registry = Arc::new(StatusRegistry::new());
        let registration = registry.register();
        assert_eq!(registry.connected_proxies(), 0);
        let progress = Progress {
            nonce: Some("2".into()),
            version_sent: Some("v2".into()),
            version_acked: Some("v1".into()),
            last_nack: Some("bad".into()),
        };
        registration.update("proxy-1", "sotw", [(ResourceType::Listener, &progress)]);
        registration.pushed(ResourceType::Listener);
        registration.nacked(ResourceType::Listener);
        registration.reached(Reach::Endpoints);
        registration.reached(Reach::None);
        registration.reached(Reach::None);
        let snapshot = registry.snapshot();
        assert_eq!(
            snapshot.reached_total,
            [("all", 0), ("endpoints", 1), ("skipped", 2)].into()
        );
        assert_eq!(snapshot.pushes_total["Listener"], 1);
        assert_eq!(snapshot.nacks_total["Listener"], 1);
        assert_eq!(snapshot.nacks_total["Cluster"], 0);
        let listener = &snapshot.proxies[0].types["Listener"];
        assert_eq!(snapshot.proxies[0].node_id, "proxy-1");
        assert_eq!(listener.version_sent.as_deref(), Some("v2"));
        assert_eq!(listener.nonce.as_deref(), Some("2"));
        assert_eq!(listener.version_acked.as_deref(), Some("v1"));
        assert_eq!(listener.last_nack.as_deref(), Some("bad"));
        assert!(listener.last_push_unix_ms.is_some());
        drop(registration);
        assert_eq!(registry.connected_proxies(), 0);
        assert!(registry.snapshot().proxies.is_empty());
    }
}
