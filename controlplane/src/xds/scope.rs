//! Which proxies a config change reaches, and for which resource types.
//!
//! Whatever builds the model tells the server, with each change, the proxies it can affect
//! ([`Scope`]); each stream reads its own proxy's node ([`Target`]) and regenerates only what
//! the change reaches: every type, only the load assignments (EDS), or nothing.

use std::collections::BTreeSet;

use envoy_types::pb::{envoy::config::core::v3::Node, google::protobuf::value::Kind};
use mesh_common::well_known::node_metadata;
use mesh_xds::ResourceType;

use super::generator::node_namespace;

/// The proxies a change can affect.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Scope {
    /// Every type of every proxy.
    #[default]
    All,
    /// Every type of the proxies in these namespaces, and of those whose namespace is unknown.
    Namespaces(BTreeSet<String>),
    /// Some proxies, some types.
    Some(Affected),
}

/// Proxies a change reaches, by what of theirs it can change.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Affected {
    /// Proxies any of whose resources may have changed.
    pub all_types: Proxies,
    /// Proxies whose load assignments (EDS) alone may have changed.
    pub endpoints: Proxies,
}

/// A set of proxies, by kind and namespace, and by the workload addresses they front.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Proxies {
    /// Sidecars (node ids `sidecar~…`) in these namespaces.
    pub sidecars: Within,
    /// Gateways (node ids `router~…`) in these namespaces.
    pub routers: Within,
    /// Any proxy with one of these addresses: the workloads' own proxies.
    pub addresses: BTreeSet<String>,
}

/// Namespaces: every one, some (none when empty), or every one but some.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Within {
    All,
    Namespaces(BTreeSet<String>),
    /// Every namespace but these: what a change exported everywhere reaches when some
    /// namespaces' `Sidecar` egress hosts leave it out.
    AllBut(BTreeSet<String>),
}

/// How far a change reaches one proxy, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reach {
    /// Nothing of it changed.
    None,
    /// Its load assignments (EDS) alone may have changed.
    Endpoints,
    /// Any of its resources may have changed.
    All,
}

/// What kind of proxy a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyClass {
    Sidecar,
    Router,
}

/// What a scope needs to know of a proxy; a part it cannot tell is `None`, and a proxy of
/// which something is unknown is reached by any change that reaches anyone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    pub class: Option<ProxyClass>,
    pub namespace: Option<String>,
    pub ips: Vec<String>,
}

// === impl Scope ===

impl Scope {
    /// A change that reaches no proxy.
    pub fn none() -> Scope {
        Scope::Some(Affected::default())
    }

    /// The scope of two changes together.
    pub fn merge(self, other: Scope) -> Scope {
        match (self, other) {
            (Scope::All, _) | (_, Scope::All) => Scope::All,
            (Scope::Namespaces(mut a), Scope::Namespaces(b)) => {
                a.extend(b);
                Scope::Namespaces(a)
            }
            (a, b) => {
                let (mut a, b) = (a.into_affected(), b.into_affected());
                a.all_types.merge(b.all_types);
                a.endpoints.merge(b.endpoints);
                Scope::Some(a)
            }
        }
    }

    /// How far the change reaches `target`.
    pub fn reach(&self, target: &Target) -> Reach {
        match self {
            Scope::All => Reach::All,
            Scope::Namespaces(namespaces) => match &target.namespace {
                Some(namespace) if !namespaces.contains(namespace) => Reach::None,
                _ => Reach::All,
            },
            Scope::Some(affected) => {
                if affected.all_types.reaches(target) {
                    Reach::All
                } else if affected.endpoints.reaches(target) {
                    Reach::Endpoints
                } else {
                    Reach::None
                }
            }
        }
    }

    /// Whether any type of a proxy in `namespace` (if known) is affected.
    pub fn affects(&self, namespace: Option<&str>) -> bool {
        let target = Target {
            namespace: namespace.map(str::to_string),
            ..Target::default()
        };
        self.reach(&target) != Reach::None
    }

    /// True when the change reaches no proxy at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Scope::All => false,
            Scope::Namespaces(namespaces) => namespaces.is_empty(),
            Scope::Some(affected) => affected.all_types.is_empty() && affected.endpoints.is_empty(),
        }
    }

    fn into_affected(self) -> Affected {
        match self {
            Scope::All => Affected {
                all_types: Proxies {
                    sidecars: Within::All,
                    routers: Within::All,
                    addresses: BTreeSet::new(),
                },
                endpoints: Proxies::default(),
            },
            Scope::Namespaces(namespaces) => Affected {
                all_types: Proxies {
                    sidecars: Within::Namespaces(namespaces.clone()),
                    routers: Within::Namespaces(namespaces),
                    addresses: BTreeSet::new(),
                },
                endpoints: Proxies::default(),
            },
            Scope::Some(affected) => affected,
        }
    }
}

// === impl Proxies ===

impl Proxies {
    /// Whether `target` is one of these proxies.
    pub fn reaches(&self, target: &Target) -> bool {
        if target.ips.iter().any(|ip| self.addresses.contains(ip)) {
            return true;
        }
        match (target.class, target.namespace.as_deref()) {
            (_, None) => !self.is_empty(),
            (Some(ProxyClass::Sidecar), Some(namespace)) => self.sidecars.contains(namespace),
            (Some(ProxyClass::Router), Some(namespace)) => self.routers.contains(namespace),
            (None, Some(namespace)) => {
                self.sidecars.contains(namespace) || self.routers.contains(namespace)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sidecars.is_empty() && self.routers.is_empty() && self.addresses.is_empty()
    }

    fn merge(&mut self, other: Proxies) {
        self.sidecars.merge(other.sidecars);
        self.routers.merge(other.routers);
        self.addresses.extend(other.addresses);
    }
}

// === impl Within ===

impl Default for Within {
    fn default() -> Self {
        Within::Namespaces(BTreeSet::new())
    }
}

impl Within {
    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            Within::All => true,
            Within::Namespaces(namespaces) => namespaces.contains(namespace),
            Within::AllBut(excluded) => !excluded.contains(namespace),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Within::Namespaces(namespaces) if namespaces.is_empty())
    }

    /// Adds one namespace.
    pub fn insert(&mut self, namespace: &str) {
        match self {
            Within::All => {}
            Within::Namespaces(namespaces) => {
                namespaces.insert(namespace.to_string());
            }
            Within::AllBut(excluded) => {
                excluded.remove(namespace);
            }
        }
    }

    /// Adds `other`'s namespaces.
    pub fn merge(&mut self, other: Within) {
        let merged = match (std::mem::take(self), other) {
            (Within::All, _) | (_, Within::All) => Within::All,
            (Within::Namespaces(mut a), Within::Namespaces(b)) => {
                a.extend(b);
                Within::Namespaces(a)
            }
            (Within::AllBut(excluded), Within::Namespaces(added))
            | (Within::Namespaces(added), Within::AllBut(excluded)) => {
                Within::AllBut(excluded.difference(&added).cloned().collect())
            }
            (Within::AllBut(a), Within::AllBut(b)) => {
                Within::AllBut(a.intersection(&b).cloned().collect())
            }
        };
        *self = match merged {
            Within::AllBut(excluded) if excluded.is_empty() => Within::All,
            merged => merged,
        };
    }
}

// === impl Reach ===

impl Reach {
    /// Whether resources of `kind` are to be generated again.
    pub fn includes(self, kind: ResourceType) -> bool {
        match self {
            Reach::None => false,
            Reach::Endpoints => kind == ResourceType::ClusterLoadAssignment,
            Reach::All => true,
        }
    }

    /// The label of `mesh_controlplane_xds_proxy_pushes_total`.
    pub fn label(self) -> &'static str {
        match self {
            Reach::None => "skipped",
            Reach::Endpoints => "endpoints",
            Reach::All => "all",
        }
    }
}

// === impl Target ===

impl Target {
    /// Reads a node as translation does: the kind and address from an Istio-style id
    /// (`sidecar~10.0.0.1~pod.ns~ns.svc.cluster.local`), the namespace from its `NAMESPACE`
    /// metadata or the id, more addresses from `INSTANCE_IPS`.
    pub fn of_node(node: &Node) -> Target {
        let mut parts = node.id.split('~');
        let class = match parts.next() {
            Some("sidecar") => Some(ProxyClass::Sidecar),
            Some("router") => Some(ProxyClass::Router),
            _ => None,
        };
        let mut ips: Vec<String> = parts
            .next()
            .filter(|ip| !ip.is_empty())
            .map(str::to_string)
            .into_iter()
            .collect();
        let instance_ips = node
            .metadata
            .as_ref()
            .and_then(|metadata| metadata.fields.get(node_metadata::INSTANCE_IPS))
            .and_then(|value| match &value.kind {
                Some(Kind::StringValue(ips)) => Some(ips.as_str()),
                _ => None,
            });
        for ip in instance_ips.iter().flat_map(|ips| ips.split(',')) {
            let ip = ip.trim();
            if !ip.is_empty() && !ips.iter().any(|known| known == ip) {
                ips.push(ip.to_string());
            }
        }
        Target {
            class,
            namespace: node_namespace(node),
            ips,
        }
    }
}

#[cfg(test)]
mod tests;
