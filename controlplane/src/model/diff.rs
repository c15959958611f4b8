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
    // Both lists are in the same order: walk them side by side, a group of services of one key
    // at a time (two ServiceEntries may declare one host), the last of a group standing for it.
    // A service carried over from `before` is the same `Arc`, and is passed by pointer.
    let (old, new) = (before.services(), after.services());
    let (mut i, mut j) = (0, 0);
    let mut changes = Vec::new();
    while i < old.len() || j < new.len() {
        let (old_end, new_end) = (group_end(old, i), group_end(new, j));
        let order = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => service_key(a).cmp(&service_key(b)),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        let (before, after) = match order {
            std::cmp::Ordering::Less => (old.get(old_end - 1), None),
            std::cmp::Ordering::Greater => (None, new.get(new_end - 1)),
            std::cmp::Ordering::Equal => (old.get(old_end - 1), new.get(new_end - 1)),
        };
        if order != std::cmp::Ordering::Greater {
            i = old_end;
        }
        if order != std::cmp::Ordering::Less {
            j = new_end;
        }
        if let (Some(before), Some(after)) = (before, after)
            && same(before, after)
        {
            continue;
        }
        changes.extend(match (before.cloned(), after.cloned()) {
            (Some(before), Some(after)) => Some(ServiceChange {
                endpoints_only: same_but_endpoints(&before, &after),
                addresses: changed_addresses(&before.endpoints, &after.endpoints),
                before: Some(before),
                after: Some(after),
            }),
            (None, Some(after)) => Some(ServiceChange {
                endpoints_only: false,
                addresses: after.endpoints.iter().map(|e| e.address.clone()).collect(),
                before: None,
                after: Some(after),
            }),
            (Some(before), None) => Some(ServiceChange {
                endpoints_only: false,
                addresses: before.endpoints.iter().map(|e| e.address.clone()).collect(),
                before: Some(before),
                after: None,
            }),
            (None, None) => None,
        });
    }
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

/// The end of the group of services of `services[start]`'s key; `start` past the end stays.
fn group_end(services: &[Arc<Service>], start: usize) -> usize {
    let Some(first) = services.get(start) else {
        return start;
    };
    let rest = services[start + 1..].iter();
    start
        + 1
        + rest
            .take_while(|s| service_key(s) == service_key(first))
            .count()
}

/// The key services are ordered by in a snapshot.
fn service_key(service: &Service) -> (&str, &str, &DeclaredBy) {
    (&service.hostname, &service.namespace, &service.declared_by)
}

fn config_index(snapshot: &Snapshot) -> BTreeMap<ResourceKey, Arc<Config>> {
    mesh_common::api::Kind::ALL
        .iter()
        .flat_map(|kind| snapshot.config().of_kind(*kind))
        .map(|c| (c.resource.key(), Arc::clone(c)))
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
