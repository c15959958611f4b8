//! What the xDS client knows, shared with the admin server and the metrics: the raw resources
//! last accepted (for `config_dump`), and per type the version, the ACK and NACK counts, the
//! last NACK and whether the stream is up.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::SystemTime,
};

use arc_swap::ArcSwap;
use envoy_types::pb::google::protobuf::Any;
use mesh_xds::resource::{Resource, ResourceType};
use tokio::sync::watch;

/// The shared, lock-free view of the client's progress. Written only by the client's task.
#[derive(Debug)]
pub struct XdsState {
    current: ArcSwap<XdsStatus>,
    changed: watch::Sender<u64>,
}

/// One moment of the client's progress.
#[derive(Clone, Debug, Default)]
pub struct XdsStatus {
    /// Whether an ADS stream is open.
    pub connected: bool,
    /// Per resource type, once the client heard about it.
    pub types: BTreeMap<ResourceType, TypeStatus>,
    /// The names subscribed to, per type subscribed by name.
    pub subscribed: BTreeMap<ResourceType, BTreeSet<String>>,
}

/// The progress of one resource type.
#[derive(Clone, Debug, Default)]
pub struct TypeStatus {
    /// The version of the last accepted response (state of the world: `version_info`; delta:
    /// `system_version_info`, or the nonce when the server sends none).
    pub version: String,
    /// Why the last refused response was refused; cleared by the next accepted one.
    pub last_error: Option<String>,
    /// Whether a response of this type was ever accepted.
    pub accepted_once: bool,
    /// The resources currently applied, by name.
    pub resources: BTreeMap<String, AcceptedResource>,
    /// Responses accepted (ACKed) since the proxy started.
    pub accepted: u64,
    /// Responses refused (NACKed) since the proxy started.
    pub rejected: u64,
    /// When the last response was refused; kept when later responses are accepted.
    pub last_rejected_at: Option<SystemTime>,
    /// The last refusal, as Envoy's `error_state`; cleared by the next accepted response.
    pub error_state: Option<ErrorState>,
}

/// A refused response, as Envoy's `UpdateFailureState` reports it.
#[derive(Clone, Debug)]
pub struct ErrorState {
    /// The version of the refused response.
    pub version: String,
    /// When it was refused.
    pub at: SystemTime,
    /// The NACK's error detail.
    pub details: String,
    /// The resource the refusal names, by name, when it is one of the response's.
    pub failed: Option<(String, Any)>,
}

/// A resource as the control plane sent it, with the version it came with.
///
/// It is kept as the bytes that came over the wire, not decoded: only `/config_dump` reads it,
/// rarely, while a decoded Envoy message is several times the size of its encoding and a
/// sidecar holds one per service.
#[derive(Clone, Debug)]
pub struct AcceptedResource {
    /// The resource's version (delta) or the response's `version_info` (state of the world).
    pub version: String,
    /// The resource, encoded.
    pub resource: Arc<Any>,
    /// When it was accepted.
    pub updated: SystemTime,
}

// === impl AcceptedResource ===

impl AcceptedResource {
    /// `resource` at `version`, encoded as the control plane would send it.
    pub fn new(version: impl Into<String>, resource: impl Into<Resource>) -> Self {
        Self {
            version: version.into(),
            resource: Arc::new(resource.into().into_any()),
            updated: SystemTime::now(),
        }
    }
}

// === impl XdsState ===

impl Default for XdsState {
    fn default() -> Self {
        Self {
            current: ArcSwap::default(),
            changed: watch::Sender::new(0),
        }
    }
}

impl XdsState {
    /// The current status; cheap.
    pub fn load(&self) -> Arc<XdsStatus> {
        self.current.load_full()
    }

    /// Whether listeners and clusters have each been accepted at least once: the proxy has its
    /// first full configuration.
    pub fn is_synced(&self) -> bool {
        let status = self.load();
        [ResourceType::Cluster, ResourceType::Listener]
            .iter()
            .all(|kind| status.types.get(kind).is_some_and(|t| t.accepted_once))
    }

    /// Resolves once [`is_synced`](Self::is_synced) holds: the moment to start serving with a
    /// complete configuration.
    pub async fn synced(&self) {
        let mut changes = self.changed.subscribe();
        while !self.is_synced() {
            // The sender lives in `self`, so the channel cannot close while this waits.
            if changes.changed().await.is_err() {
                return;
            }
        }
    }

    pub(crate) fn set_connected(&self, connected: bool) {
        self.update(|s| s.connected = connected);
    }

    /// Records an accepted response: `upserts` replace, `removals` go.
    pub(crate) fn accepted(
        &self,
        kind: ResourceType,
        version: &str,
        upserts: &[(String, AcceptedResource)],
        removals: &[String],
    ) {
        self.update(|s| {
            let t = s.types.entry(kind).or_default();
            t.version = version.to_owned();
            t.last_error = None;
            t.error_state = None;
            t.accepted_once = true;
            t.accepted += 1;
            for (name, resource) in upserts {
                t.resources.insert(name.clone(), resource.clone());
            }
            for name in removals {
                t.resources.remove(name);
            }
        });
    }

    /// Records the names subscribed to for `kind`.
    pub(crate) fn subscribed(&self, kind: ResourceType, names: &BTreeSet<String>) {
        self.update(|s| {
            s.subscribed.insert(kind, names.clone());
        });
    }

    /// Forgets the accepted resources of `kind` not named in `kept`.
    pub(crate) fn retain(&self, kind: ResourceType, kept: &BTreeSet<String>) {
        let held = self.load();
        let stale = held
            .types
            .get(&kind)
            .is_some_and(|t| t.resources.keys().any(|name| !kept.contains(name)));
        if stale {
            self.update(|s| {
                if let Some(t) = s.types.get_mut(&kind) {
                    t.resources.retain(|name, _| kept.contains(name));
                }
            });
        }
    }

    /// Records a refused response: `error.details` is the NACK's error detail.
    pub(crate) fn refused(&self, kind: ResourceType, error: ErrorState) {
        self.update(|s| {
            let t = s.types.entry(kind).or_default();
            t.last_error = Some(error.details.clone());
            t.last_rejected_at = Some(error.at);
            t.rejected += 1;
            t.error_state = Some(error.clone());
        });
    }

    /// The names and versions of the accepted resources of `kind`.
    pub(super) fn versions(&self, kind: ResourceType) -> BTreeMap<String, String> {
        self.load()
            .types
            .get(&kind)
            .map(|t| {
                t.resources
                    .iter()
                    .map(|(name, r)| (name.clone(), r.version.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The version of the last accepted response of `kind` (empty before the first).
    pub(super) fn version(&self, kind: ResourceType) -> String {
        self.load()
            .types
            .get(&kind)
            .map(|t| t.version.clone())
            .unwrap_or_default()
    }

    fn update(&self, change: impl Fn(&mut XdsStatus)) {
        self.current.rcu(|current| {
            let mut next = XdsStatus::clone(current);
            change(&mut next);
            next
        });
        self.changed.send_modify(|generation| *generation += 1);
    }
}
