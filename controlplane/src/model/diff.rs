//! What changed between two snapshots: the mesh config, each Istio resource, and each service
//! with its endpoints told apart from the rest of it.
//!
//! The control plane pushes a change only to the proxies it affects; this is the first half of
//! that, the changed objects. It compares the snapshots object by object, by key, without
//! encoding anything: shared `Arc`s are equal at once, and the others are compared as values.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use mesh_common::api::ResourceKey;

use super::{Config, DeclaredBy, Endpoint, Service, Snapshot};

/// What differs between two snapshots.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    /// The mesh config changed: everything may have.
    pub mesh: bool,
    /// Istio resources added, removed or changed, in kind, namespace, name order.
    pub configs: Vec<ConfigChange>,
    /// Services added, removed or changed, in namespace, hostname order.
    pub services: Vec<ServiceChange>,
}

/// One Istio resource, before and after; `None` where it did not exist.
#[derive(Clone, Debug)]
pub struct ConfigChange {
    pub key: ResourceKey,
    pub before: Option<Arc<Config>>,
    pub after: Option<Arc<Config>>,
}

/// One service, before and after; `None` where it did not exist.
#[derive(Clone, Debug)]
pub struct ServiceChange {
    pub before: Option<Arc<Service>>,
    pub after: Option<Arc<Service>>,
    /// Only its endpoints changed: every other field is equal on both sides.
    pub endpoints_only: bool,
    /// The addresses whose endpoint was added, removed or changed.
    pub addresses: BTreeSet<String>,
}

/// A changed object, for logs and tests: which resource or service, not how.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangedObject {
    /// The mesh config.
    Mesh,
    /// An Istio resource.
    Config(ResourceKey),
    /// A service's definition (its ports, addresses, `exportTo`, …), maybe its endpoints too.
    Service { namespace: String, hostname: String },
    /// Only a service's endpoints.
    Endpoints { namespace: String, hostname: String },
}

/// Services are keyed by what tells two apart: two ServiceEntries may declare one host in one
/// namespace.
type ServiceKey<'a> = (&'a str, &'a str, &'a DeclaredBy);

// === impl Diff ===

impl Diff {
    /// Compares `before` with `after`.
    pub fn between(before: &Snapshot, after: &Snapshot) -> Diff {
        Diff {
            mesh: before.mesh() != after.mesh(),
            configs: configs(before, after),
            services: services(before, after),
        }
    }

    /// True when nothing a proxy is configured from changed.
    pub fn is_empty(&self) -> bool {
        !self.mesh && self.configs.is_empty() && self.services.is_empty()
    }

    /// The changed objects.
    pub fn objects(&self) -> BTreeSet<ChangedObject> {
        let mut objects = BTreeSet::new();
        if self.mesh {
            objects.insert(ChangedObject::Mesh);
        }
        objects.extend(
            self.configs
                .iter()
                .map(|c| ChangedObject::Config(c.key.clone())),
        );
        for change in &self.services {
            let Some(service) = change.after.as_ref().or(change.before.as_ref()) else {
                continue;
            };
            let (namespace, hostname) = (service.namespace.clone(), service.hostname.clone());
            objects.insert(if change.endpoints_only {
                ChangedObject::Endpoints {
                    namespace,
                    hostname,
                }
            } else {
                ChangedObject::Service {
                    namespace,
                    hostname,
                }
            });
        }
        objects
    }
}

// === impl ServiceChange ===

impl ServiceChange {
    /// Both sides, where they exist.
    pub fn sides(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.before.iter().chain(self.after.iter())
    }
}

// === impl ConfigChange ===

impl ConfigChange {
    /// Both sides, where they exist.
    pub fn sides(&self) -> impl Iterator<Item = &Arc<Config>> {
        self.before.iter().chain(self.after.iter())
    }
}

fn configs(before: &Snapshot, after: &Snapshot) -> Vec<ConfigChange> {
    // Snapshots that share their config (a clone) differ in none of it.
    if std::ptr::eq(before.config(), after.config()) {
        return Vec::new();
    }
    let (mut old, new) = (config_index(before), config_index(after));
    let mut changes = Vec::new();
    for (key, after) in new {
        let before = old.remove(&key);
        if before.as_ref().is_some_and(|b| same(b, &after)) {
            continue;
        }
        changes.push(ConfigChange {
            key,
            before,
            after: Some(after),
        });
    }
    changes.extend(old.into_iter().map(|(key, before)| ConfigChange {
        key,
        before: Some(before),
        after: None,
    }));
    changes.sort_by(|a, b| a.key.cmp(&b.key));
    changes
}

fn services(before: &Snapshot, after: &Snapshot) -> Vec<ServiceChange> {
    if std::ptr::eq(before.services(), after.services()) {
        return Vec::new();
    }
    let (mut old, new) = (service_index(before), service_index(after));
    let mut changes = Vec::new();
    for (key, after) in new {
        match old.remove(&key) {
            Some(before) if same(&before, &after) => {}
            Some(before) => changes.push(ServiceChange {
                endpoints_only: same_but_endpoints(&before, &after),
                addresses: changed_addresses(&before.endpoints, &after.endpoints),
                before: Some(before),
                after: Some(after),
            }),
            None => changes.push(ServiceChange {
                endpoints_only: false,
                addresses: after.endpoints.iter().map(|e| e.address.clone()).collect(),
                before: None,
                after: Some(after),
            }),
        }
    }
    changes.extend(old.into_values().map(|before| ServiceChange {
        endpoints_only: false,
        addresses: before.endpoints.iter().map(|e| e.address.clone()).collect(),
        before: Some(before),
        after: None,
    }));
    let order = |c: &ServiceChange| {
        c.after.as_ref().or(c.before.as_ref()).map(|s| {
            (
                s.namespace.clone(),
                s.hostname.clone(),
                s.declared_by.clone(),
            )
        })
    };
    changes.sort_by_key(order);
    changes
}

fn config_index(snapshot: &Snapshot) -> BTreeMap<ResourceKey, Arc<Config>> {
    mesh_common::api::Kind::ALL
        .iter()
        .flat_map(|kind| snapshot.config().of_kind(*kind))
        .map(|c| (c.resource.key(), Arc::clone(c)))
        .collect()
}

fn service_index(snapshot: &Snapshot) -> BTreeMap<ServiceKey<'_>, Arc<Service>> {
    snapshot
        .services()
        .iter()
        .map(|s| ((&*s.namespace, &*s.hostname, &s.declared_by), Arc::clone(s)))
        .collect()
}

/// Equal, by pointer first: a snapshot built incrementally shares what did not change.
fn same<T: PartialEq>(a: &Arc<T>, b: &Arc<T>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// Whether the services differ in their endpoints alone.
fn same_but_endpoints(a: &Service, b: &Service) -> bool {
    // Destructured so that a field added to `Service` must be considered here.
    let Service {
        hostname,
        namespace,
        declared_by,
        addresses,
        ports,
        location,
        resolution,
        export_to,
        subject_alt_names,
        endpoints: _,
    } = a;
    *hostname == b.hostname
        && *namespace == b.namespace
        && *declared_by == b.declared_by
        && *addresses == b.addresses
        && *ports == b.ports
        && *location == b.location
        && *resolution == b.resolution
        && *export_to == b.export_to
        && *subject_alt_names == b.subject_alt_names
}

/// The addresses whose endpoint is on one side only, or differs.
fn changed_addresses(before: &[Endpoint], after: &[Endpoint]) -> BTreeSet<String> {
    let (old, new) = (endpoint_index(before), endpoint_index(after));
    let mut changed: BTreeSet<String> = new
        .iter()
        .filter(|(address, endpoint)| old.get(*address) != Some(*endpoint))
        .map(|(address, _)| (*address).to_string())
        .collect();
    changed.extend(
        old.keys()
            .filter(|a| !new.contains_key(*a))
            .map(|a| (*a).to_string()),
    );
    changed
}

fn endpoint_index(endpoints: &[Endpoint]) -> BTreeMap<&str, &Endpoint> {
    endpoints.iter().map(|e| (e.address.as_str(), e)).collect()
}
