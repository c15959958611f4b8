//! Kept as objects change: which slices make up each Service's endpoints and which slices name
//! each Pod, and which services the changes since the last snapshot touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Service},
    discovery::v1::EndpointSlice,
};

use super::{ObjectKey, Objects};

/// The label that ties an EndpointSlice to its Service.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// What a service's model is built from, besides the Service itself.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// The names of each Service's slices (in its namespace), in name order.
    slices: BTreeMap<ObjectKey, BTreeSet<String>>,
    /// The slices naming each Pod in an endpoint's `targetRef`.
    pod_slices: HashMap<ObjectKey, BTreeSet<ObjectKey>>,
}

/// What changed since a snapshot was taken.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    /// The revision of the objects when the last snapshot took the changes before these.
    pub since: u64,
    /// Something outside the objects changed: build everything.
    pub everything: bool,
    /// Kubernetes Services whose model may have changed.
    pub services: BTreeSet<ObjectKey>,
    /// A Pod changed (a ServiceEntry's `workloadSelector` may pick it).
    pub pods: bool,
    /// An Istio resource changed.
    pub resources: bool,
}

// === impl Index ===

impl Index {
    /// The names of the slices of the Service of `key`, in name order.
    pub fn slices_of(&self, key: &ObjectKey) -> impl Iterator<Item = &str> {
        self.slices
            .get(key)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

pub(super) fn namespace_changed(_: &mut Objects, _: &ObjectKey, _: Option<&Namespace>) {
    // No service is built from a Namespace.
}

pub(super) fn service_changed(objects: &mut Objects, key: &ObjectKey, _: Option<&Service>) {
    objects.pending.services.insert(key.clone());
}

pub(super) fn slice_changed(objects: &mut Objects, key: &ObjectKey, old: Option<&EndpointSlice>) {
    if let Some(old) = old {
        if let Some(service) = service_of(key, old) {
            if let Some(names) = objects.index.slices.get_mut(&service) {
                names.remove(&key.name);
                if names.is_empty() {
                    objects.index.slices.remove(&service);
                }
            }
            objects.pending.services.insert(service);
        }
        for pod in pods_of(key, old) {
            if let Some(slices) = objects.index.pod_slices.get_mut(&pod) {
                slices.remove(key);
                if slices.is_empty() {
                    objects.index.pod_slices.remove(&pod);
                }
            }
        }
    }
    let Some(new) = objects.endpoint_slices.get(key) else {
        return;
    };
    let (service, pods) = (service_of(key, new), pods_of(key, new));
    for pod in pods {
        let slices = objects.index.pod_slices.entry(pod).or_default();
        slices.insert(key.clone());
    }
    if let Some(service) = service {
        let names = objects.index.slices.entry(service.clone()).or_default();
        names.insert(key.name.clone());
        objects.pending.services.insert(service);
    }
}

pub(super) fn pod_changed(objects: &mut Objects, key: &ObjectKey, _: Option<&Pod>) {
    objects.pending.pods = true;
    let slices = objects.index.pod_slices.get(key).into_iter().flatten();
    let services = slices.filter_map(|slice| {
        let slice_object = objects.endpoint_slices.get(slice)?;
        service_of(slice, slice_object)
    });
    let services: Vec<ObjectKey> = services.collect();
    objects.pending.services.extend(services);
}

/// The Service a slice belongs to, by its label.
fn service_of(key: &ObjectKey, slice: &EndpointSlice) -> Option<ObjectKey> {
    let labels = slice.metadata.labels.as_ref()?;
    let service = labels.get(SERVICE_NAME_LABEL)?;
    Some(ObjectKey::new(key.namespace.clone(), service.clone()))
}

/// The Pods a slice's endpoints name.
fn pods_of(key: &ObjectKey, slice: &EndpointSlice) -> BTreeSet<ObjectKey> {
    let endpoints = slice.endpoints.iter().flatten();
    let refs = endpoints.filter_map(|e| e.target_ref.as_ref());
    refs.filter(|r| r.kind.as_deref() == Some("Pod"))
        .filter_map(|r| {
            let namespace = r.namespace.clone().unwrap_or_else(|| key.namespace.clone());
            Some(ObjectKey::new(namespace, r.name.clone()?))
        })
        .collect()
}
