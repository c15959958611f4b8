//! What the cluster's watch events do to the model: the pure heart of the cluster store.
//!
//! Every watch, one per kind, turns its events into [`Update`]s; [`ClusterState::apply`]
//! writes them into [`Objects`] with a reflector's semantics: a relist (the first list, or one
//! after a watch could not resume) replaces the kind's objects atomically when it is complete,
//! so the model never passes through a half-listed state. An Istio resource that does not decode
//! is reported and skipped; the version of it that last decoded, if any, stays applied, as the
//! file store keeps the last good version of a mistyped file.

use std::collections::{BTreeMap, BTreeSet};

use ::kube::{api::ApiResource, core::DynamicObject};
use k8s_openapi::{
    api::{
        core::v1::{Namespace, Pod, PodSpec, PodStatus, Secret, Service},
        discovery::v1::EndpointSlice,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use mesh_common::{
    api::{self, DecodeError, Kind},
    load::{LoadError, LoadedKey, LoadedKind, LoadedObject, Origin},
};
use serde_json::Value;

use crate::{
    model::{KubeObject, Objects, Snapshot},
    store::Change,
};

/// `kubectl apply` keeps a copy of the whole object here: the largest annotation by far, and
/// one the model never reads.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One object as a watch delivered it: its key, and the object or why it could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub key: LoadedKey,
    pub object: Result<LoadedObject, LoadError>,
}

/// One watch event, of any kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// An object was added or changed.
    Apply(Item),
    /// An object was deleted.
    Delete(LoadedKey),
    /// The watch of this kind lists everything again; what it had stays applied until
    /// [`Update::RelistDone`].
    Relist(LoadedKind),
    /// One object of a relist.
    Listed(Item),
    /// The relist is complete: what it did not list is gone. Also sent for a kind the cluster
    /// does not serve (its CRD is not installed), which has no objects.
    RelistDone(LoadedKind),
}

/// Everything the watches said so far.
#[derive(Debug, Default)]
pub struct ClusterState {
    objects: Objects,
    errors: BTreeMap<LoadedKey, LoadError>,
    relists: BTreeMap<LoadedKind, Vec<Item>>,
    listed: BTreeSet<LoadedKind>,
}

// === impl Item ===

impl Item {
    /// An object of a Kubernetes kind: the typed watch already decoded it.
    pub fn of(object: LoadedObject) -> Self {
        Item {
            key: object.key(),
            object: Ok(object),
        }
    }
}

// === impl Update ===

impl Update {
    /// Whether it is an EndpointSlice's or a Pod's add, change or deletion, which may go at a
    /// window's leading edge ([`is_endpoint_kind`](crate::store::is_endpoint_kind)). A relist
    /// is never one: it waits for the window with the rest of its kind.
    pub fn is_endpoint(&self) -> bool {
        match self {
            Update::Apply(item) => crate::store::is_endpoint_kind(item.key.kind),
            Update::Delete(key) => crate::store::is_endpoint_kind(key.kind),
            Update::Relist(_) | Update::Listed(_) | Update::RelistDone(_) => false,
        }
    }
}

// === impl ClusterState ===

impl ClusterState {
    /// Applies one update; true when the model changed.
    pub fn apply(&mut self, update: Update) -> bool {
        match update {
            Update::Apply(item) => self.apply_item(item),
            Update::Delete(key) => {
                self.errors.remove(&key);
                Change::Delete(key).apply(&mut self.objects)
            }
            Update::Relist(kind) => {
                self.relists.insert(kind, Vec::new());
                false
            }
            Update::Listed(item) => {
                self.relists.entry(item.key.kind).or_default().push(item);
                false
            }
            Update::RelistDone(kind) => self.relisted(kind),
        }
    }

    /// The model's inputs.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// The snapshot of the state now, built from `last`, the one before (see
    /// [`Snapshot::next`]).
    pub fn snapshot(&mut self, last: &Snapshot) -> Snapshot {
        last.next(&mut self.objects)
    }

    /// The objects that could not be read, in key order.
    pub fn errors(&self) -> Vec<LoadError> {
        self.errors.values().cloned().collect()
    }

    /// Whether every one of `kinds` has been listed at least once: before that, a snapshot
    /// would lack objects that exist, and proxies would lose routes they have.
    pub fn has_listed(&self, kinds: &[LoadedKind]) -> bool {
        kinds.iter().all(|kind| self.listed.contains(kind))
    }

    fn apply_item(&mut self, item: Item) -> bool {
        match item.object {
            Ok(object) => {
                self.errors.remove(&item.key);
                Change::Upsert(object).apply(&mut self.objects)
            }
            Err(mut error) => {
                if self.keys_of(item.key.kind).contains(&item.key) {
                    error
                        .reason
                        .push_str("; its last good version stays applied");
                }
                self.errors.insert(item.key, error);
                false
            }
        }
    }

    fn relisted(&mut self, kind: LoadedKind) -> bool {
        self.listed.insert(kind);
        let items = self.relists.remove(&kind).unwrap_or_default();
        let keys: BTreeSet<&LoadedKey> = items.iter().map(|item| &item.key).collect();
        let gone: Vec<LoadedKey> = self
            .keys_of(kind)
            .into_iter()
            .filter(|key| !keys.contains(key))
            .collect();
        self.errors
            .retain(|key, _| key.kind != kind || keys.contains(key));
        let mut changed = false;
        for key in gone {
            changed |= Change::Delete(key).apply(&mut self.objects);
        }
        for item in items {
            changed |= self.apply_item(item);
        }
        changed
    }

    /// The keys of the applied objects of one kind.
    fn keys_of(&self, kind: LoadedKind) -> BTreeSet<LoadedKey> {
        fn keys<K: KubeObject>(objects: &Objects, kind: LoadedKind) -> BTreeSet<LoadedKey> {
            let keys = objects.all::<K>().keys();
            keys.map(|key| LoadedKey {
                kind,
                namespace: key.namespace.clone(),
                name: key.name.clone(),
            })
            .collect()
        }
        match kind {
            LoadedKind::Namespace => keys::<Namespace>(&self.objects, kind),
            LoadedKind::Service => keys::<Service>(&self.objects, kind),
            LoadedKind::Pod => keys::<Pod>(&self.objects, kind),
            LoadedKind::EndpointSlice => keys::<EndpointSlice>(&self.objects, kind),
            LoadedKind::Secret => keys::<Secret>(&self.objects, kind),
            LoadedKind::Istio(istio) => {
                let resources = self.objects.resources().keys();
                resources
                    .filter(|key| key.kind == istio)
                    .map(|key| LoadedKey {
                        kind,
                        namespace: key.namespace.clone(),
                        name: key.name.clone(),
                    })
                    .collect()
            }
        }
    }
}

/// Reads an Istio resource the way the file store does, with mesh-common's decoder.
///
/// The watch delivers it untyped: a typed watch would fail its whole list on one resource that
/// does not deserialize, and stop every resource of the kind from applying.
pub fn decode_istio(kind: Kind, resource: &ApiResource, mut object: DynamicObject) -> Item {
    trim(&mut object.metadata);
    let namespace = object.metadata.namespace.clone().unwrap_or_default();
    let name = object.metadata.name.clone().unwrap_or_default();
    let key = LoadedKey {
        kind: LoadedKind::Istio(kind),
        namespace: namespace.clone(),
        name: name.clone(),
    };
    let error = |reason: String| LoadError {
        origin: Origin {
            file: format!(
                "/apis/{}/namespaces/{namespace}/{}/{name}",
                resource.api_version, resource.plural
            )
            .into(),
            document: 0,
            line: 0,
            item: None,
        },
        kind: Some(kind.to_string()),
        namespace: Some(namespace.clone()),
        name: Some(name.clone()),
        reason,
        first_defined: None,
    };
    let mut value = match serde_json::to_value(&object) {
        Ok(value) => value,
        Err(e) => {
            return Item {
                key,
                object: Err(error(e.to_string())),
            };
        }
    };
    // Items of a list may leave their type out, and the API server sends every object in the
    // version the watch asked for.
    if let Value::Object(fields) = &mut value {
        fields.insert("apiVersion".into(), resource.api_version.clone().into());
        fields.insert("kind".into(), resource.kind.clone().into());
    }
    let object = match api::decode(&value) {
        Ok(decoded) => Ok(LoadedObject::Istio(decoded.resource)),
        Err(DecodeError::Invalid { path, message, .. }) if path.is_root() => Err(error(message)),
        Err(DecodeError::Invalid { path, message, .. }) => Err(error(format!("{path}: {message}"))),
        Err(DecodeError::MissingName { .. }) => Err(error("metadata.name is missing".into())),
        Err(other) => Err(error(other.to_string())),
    };
    Item { key, object }
}

/// Drops what no store reads from an object's metadata, to save memory.
pub fn trim(meta: &mut ObjectMeta) {
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.remove(LAST_APPLIED);
    }
}

/// Keeps of a Pod only what the model reads: its metadata (labels), service account, node and
/// addresses. Pods are the most numerous objects of a cluster and their specs the largest part.
pub fn trim_pod(pod: &mut Pod) {
    trim(&mut pod.metadata);
    pod.spec = pod.spec.take().map(|spec| PodSpec {
        service_account_name: spec.service_account_name,
        node_name: spec.node_name,
        host_network: spec.host_network,
        ..PodSpec::default()
    });
    pod.status = pod.status.take().map(|status| PodStatus {
        phase: status.phase,
        pod_ip: status.pod_ip,
        pod_ips: status.pod_ips,
        host_ip: status.host_ip,
        ..PodStatus::default()
    });
}
