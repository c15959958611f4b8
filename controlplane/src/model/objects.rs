//! The raw inputs of the model, keyed by kind, namespace and name: what the Kubernetes watches
//! and the config directory last said. Both stores write here; nothing downstream can tell
//! which one an object came from.
//!
//! Secrets are kept read as TLS credentials ([`Credentials`]) besides, which snapshots share.
//!
//! Besides the objects, the index a snapshot needs to rebuild one service (its slices, the
//! slices naming a pod), and what changed since the last snapshot, so that
//! [`Snapshot::next`](super::Snapshot::next) rebuilds only the services a change touches.

mod credentials;
mod index;

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::{
    api::{
        core::v1::{Namespace, Pod, Secret, Service},
        discovery::v1::EndpointSlice,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use mesh_common::api::{Resource, ResourceKey};

/// Names a Kubernetes object of a known kind. `namespace` is empty for cluster-scoped kinds.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

/// Every input object, in key order so that a build visits them deterministically.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    revision: u64,
    namespaces: BTreeMap<ObjectKey, Namespace>,
    services: BTreeMap<ObjectKey, Service>,
    endpoint_slices: BTreeMap<ObjectKey, EndpointSlice>,
    pods: BTreeMap<ObjectKey, Pod>,
    secrets: BTreeMap<ObjectKey, Secret>,
    /// What the Secrets hold, kept as they change and shared with the snapshots.
    credentials: Arc<Credentials>,
    resources: BTreeMap<ResourceKey, Resource>,
    index: Index,
    pending: Pending,
}

/// A Kubernetes kind the model reads, and where [`Objects`] keeps it.
pub trait KubeObject: Clone + PartialEq + Sized {
    fn metadata(&self) -> &ObjectMeta;
    fn store(objects: &Objects) -> &BTreeMap<ObjectKey, Self>;
    fn store_mut(objects: &mut Objects) -> &mut BTreeMap<ObjectKey, Self>;
    /// Updates the index and the pending changes once the object of `key` changed from `old`.
    fn changed(objects: &mut Objects, key: &ObjectKey, old: Option<&Self>);
}

pub use self::credentials::{
    Credential, Credentials, KeyPair, SDS_CA_SUFFIX, SDS_PREFIX, SecretError,
};
pub(super) use self::index::{Index, Pending};

// === impl ObjectKey ===

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    fn of(meta: &ObjectMeta) -> Self {
        Self::new(
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        )
    }
}

// === impl Objects ===

impl Objects {
    /// Counts the changes made so far: a snapshot built from these objects carries it as its
    /// version, so versions grow with every change and equal objects give equal versions.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Records that something outside the objects changed (the mesh config), so that the next
    /// snapshot gets a new version.
    pub fn touch(&mut self) {
        self.revision += 1;
        self.pending.everything = true;
    }

    /// Adds or replaces a Kubernetes object; true when the store changed.
    pub fn upsert<K: KubeObject>(&mut self, object: K) -> bool {
        let key = ObjectKey::of(object.metadata());
        if key.name.is_empty() {
            // The API server never sends a nameless object; a hand-written file may, and there
            // is nothing to key it by.
            return false;
        }
        let store = K::store_mut(self);
        if store.get(&key) == Some(&object) {
            return false;
        }
        let old = store.insert(key.clone(), object);
        K::changed(self, &key, old.as_ref());
        self.revision += 1;
        true
    }

    /// Removes a Kubernetes object; true when it was there.
    pub fn delete<K: KubeObject>(&mut self, key: &ObjectKey) -> bool {
        let Some(old) = K::store_mut(self).remove(key) else {
            return false;
        };
        K::changed(self, key, Some(&old));
        self.revision += 1;
        true
    }

    /// Adds or replaces an Istio resource; true when the store changed.
    pub fn upsert_resource(&mut self, resource: Resource) -> bool {
        let key = resource.key();
        if key.name.is_empty() || self.resources.get(&key) == Some(&resource) {
            return false;
        }
        self.resources.insert(key, resource);
        self.pending.resources = true;
        self.revision += 1;
        true
    }

    /// Removes an Istio resource; true when it was there.
    pub fn delete_resource(&mut self, key: &ResourceKey) -> bool {
        let removed = self.resources.remove(key).is_some();
        if removed {
            self.pending.resources = true;
            self.revision += 1;
        }
        removed
    }

    /// The objects of one Kubernetes kind, in key order.
    pub fn all<K: KubeObject>(&self) -> &BTreeMap<ObjectKey, K> {
        K::store(self)
    }

    pub fn get<K: KubeObject>(&self, namespace: &str, name: &str) -> Option<&K> {
        K::store(self).get(&ObjectKey::new(namespace, name))
    }

    /// The Istio resources, in key order.
    pub fn resources(&self) -> &BTreeMap<ResourceKey, Resource> {
        &self.resources
    }

    /// What the Secrets hold, as of now.
    pub fn credentials(&self) -> Arc<Credentials> {
        Arc::clone(&self.credentials)
    }

    pub(super) fn index(&self) -> &Index {
        &self.index
    }

    /// What changed since the last call, which the snapshot of revision `since` did not see.
    pub(super) fn take_pending(&mut self) -> Pending {
        let next = Pending {
            since: self.revision,
            ..Pending::default()
        };
        std::mem::replace(&mut self.pending, next)
    }
}

/// The objects alike; the index and pending changes follow from them.
impl PartialEq for Objects {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision
            && self.namespaces == other.namespaces
            && self.services == other.services
            && self.endpoint_slices == other.endpoint_slices
            && self.pods == other.pods
            && self.secrets == other.secrets
            && self.resources == other.resources
    }
}

macro_rules! kube_objects {
    ($($kind:ty => $field:ident, $changed:path,)+) => {
        $(
            impl KubeObject for $kind {
                fn metadata(&self) -> &ObjectMeta {
                    &self.metadata
                }

                fn store(objects: &Objects) -> &BTreeMap<ObjectKey, Self> {
                    &objects.$field
                }

                fn store_mut(objects: &mut Objects) -> &mut BTreeMap<ObjectKey, Self> {
                    &mut objects.$field
                }

                fn changed(objects: &mut Objects, key: &ObjectKey, old: Option<&Self>) {
                    $changed(objects, key, old)
                }
            }
        )+
    };
}

kube_objects! {
    Namespace => namespaces, index::namespace_changed,
    Service => services, index::service_changed,
    EndpointSlice => endpoint_slices, index::slice_changed,
    Pod => pods, index::pod_changed,
    Secret => secrets, credentials::secret_changed,
}
