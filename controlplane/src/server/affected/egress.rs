//! The `Sidecar` resources' egress hosts, read per namespace, to narrow the sidecars a change
//! reaches: a sidecar whose egress hosts admit neither a service nor a VirtualService that
//! routes to it is configured with nothing of that service.
//!
//! Translation picks one Sidecar per proxy ([`EgressScope::for_proxy`]); here the pick is made
//! per namespace, which is exact for the Sidecars without a `workloadSelector`. A namespace
//! with a workload-selected Sidecar is not narrowed: which of its proxies it selects is not
//! known here. Admission is checked on every egress listener, whatever its port, so that it
//! only ever says yes where translation may.

use std::{
    cell::OnceCell,
    collections::{BTreeMap, BTreeSet},
};

use mesh_common::api::{Kind, Resource};
use serde_json::Value;

use super::MESH_GATEWAY;
use crate::{
    model::{ExportTo, Snapshot, host_matches},
    translate::{EgressScope, Proxy, ProxyKind},
    xds::Within,
};

/// The egress hosts of every namespace of one snapshot, and its VirtualServices for sidecars.
pub(super) struct Egress<'a> {
    snapshot: &'a Snapshot,
    /// The namespaces with Sidecars of their own: the scope their proxies get, or `None` when a
    /// Sidecar there selects workloads (not narrowed).
    namespaces: BTreeMap<String, Option<EgressScope>>,
    /// The scope of the proxies of every other namespace: the root namespace's default
    /// Sidecar, or none.
    fallback: EgressScope,
    /// Read on first use: only changes of services and DestinationRules need them.
    routes: OnceCell<Vec<MeshRoute>>,
}

/// A VirtualService sidecars use: where it is, its hosts, and the hosts it routes to.
struct MeshRoute {
    namespace: String,
    export_to: ExportTo,
    hosts: Vec<String>,
    destinations: Vec<String>,
}

// === impl Egress ===

impl<'a> Egress<'a> {
    pub(super) fn of(snapshot: &'a Snapshot) -> Self {
        let mut selecting = BTreeSet::new();
        let mut with_sidecars = BTreeSet::new();
        for config in snapshot.config().of_kind(Kind::Sidecar) {
            if let Resource::Sidecar(sidecar) = &config.resource {
                let namespace = config.resource.namespace().to_string();
                if sidecar.spec.workload_selector.is_some() {
                    selecting.insert(namespace.clone());
                }
                with_sidecars.insert(namespace);
            }
        }
        let scope_in = |namespace: &str| EgressScope::for_proxy(snapshot, &unlabelled(namespace));
        let namespaces = with_sidecars
            .into_iter()
            .map(|namespace| {
                let scope = (!selecting.contains(&namespace)).then(|| scope_in(&namespace));
                (namespace, scope)
            })
            .collect();
        Egress {
            snapshot,
            namespaces,
            // No namespace is named "": its proxies would get the mesh-wide default.
            fallback: scope_in(""),
            routes: OnceCell::new(),
        }
    }

    /// The sidecars that may read a service (or a ServiceEntry host) `hostname` of
    /// `namespace`: those it is exported to that admit it, and those that admit a VirtualService
    /// routing to it (a route reads the ports and the DestinationRule of its destination).
    pub(super) fn service(&self, namespace: &str, hostname: &str, export_to: &ExportTo) -> Within {
        let mut within = self.narrow(export_to, |scope| scope.may_admit(namespace, hostname));
        let to_it = |route: &&MeshRoute| route.destinations.iter().any(|d| overlap(d, hostname));
        for route in self.routes().iter().filter(to_it) {
            within.merge(self.virtual_service(&route.namespace, &route.hosts, &route.export_to));
        }
        within
    }

    /// The sidecars that may hold the load assignments of a service: those it is exported to
    /// that admit it (only its own clusters take its endpoints).
    pub(super) fn endpoints(
        &self,
        namespace: &str,
        hostname: &str,
        export_to: &ExportTo,
    ) -> Within {
        self.narrow(export_to, |scope| scope.may_admit(namespace, hostname))
    }

    /// The sidecars that may use a VirtualService of `namespace` for `hosts` (completed). One
    /// without hosts is a delegate, whose rules its root's hosts carry: it is not narrowed.
    pub(super) fn virtual_service(
        &self,
        namespace: &str,
        hosts: &[String],
        export_to: &ExportTo,
    ) -> Within {
        self.narrow(export_to, |scope| {
            hosts.is_empty() || hosts.iter().any(|host| scope.may_admit(namespace, host))
        })
    }

    /// The sidecars that may use a DestinationRule for `host` (completed): those it is exported
    /// to that admit a service it covers, or a VirtualService routing to a host it covers.
    pub(super) fn destination_rule(&self, host: &str, export_to: &ExportTo) -> Within {
        let services: Vec<(&str, &str)> = self
            .snapshot
            .services()
            .iter()
            .filter(|s| host_matches(host, &s.hostname))
            .map(|s| (s.namespace.as_str(), s.hostname.as_str()))
            .collect();
        let routes: Vec<&MeshRoute> = self
            .routes()
            .iter()
            .filter(|r| r.destinations.iter().any(|d| host_matches(host, d)))
            .collect();
        self.narrow(export_to, |scope| {
            services.iter().any(|(ns, name)| scope.may_admit(ns, name))
                || routes.iter().any(|route| {
                    route
                        .hosts
                        .iter()
                        .any(|h| scope.may_admit(&route.namespace, h))
                })
        })
    }

    fn routes(&self) -> &[MeshRoute] {
        self.routes.get_or_init(|| mesh_routes(self.snapshot))
    }

    /// The namespaces of `export_to` whose sidecars' scope `admits`.
    fn narrow(&self, export_to: &ExportTo, admits: impl Fn(&EgressScope) -> bool) -> Within {
        let admitted = |scope: &Option<EgressScope>| scope.as_ref().is_none_or(&admits);
        match export_to {
            ExportTo::Namespaces(namespaces) => Within::Namespaces(
                namespaces
                    .iter()
                    .filter(|ns| match self.namespaces.get(*ns) {
                        Some(scope) => admitted(scope),
                        None => admits(&self.fallback),
                    })
                    .cloned()
                    .collect(),
            ),
            ExportTo::All => {
                let own = self.namespaces.iter();
                if admits(&self.fallback) {
                    let left_out: BTreeSet<String> = own
                        .filter(|(_, scope)| !admitted(scope))
                        .map(|(ns, _)| ns.clone())
                        .collect();
                    if left_out.is_empty() {
                        Within::All
                    } else {
                        Within::AllBut(left_out)
                    }
                } else {
                    Within::Namespaces(
                        own.filter(|(_, scope)| admitted(scope))
                            .map(|(ns, _)| ns.clone())
                            .collect(),
                    )
                }
            }
        }
    }
}

/// A sidecar of `namespace` as a Sidecar without a selector sees it.
fn unlabelled(namespace: &str) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        ips: Vec::new(),
        pod: String::new(),
        namespace: namespace.to_string(),
        labels: BTreeMap::new(),
        service_account: String::new(),
        workload_name: String::new(),
    }
}

/// Whether two hosts (names or wildcards) overlap, either covering the other.
fn overlap(a: &str, b: &str) -> bool {
    host_matches(a, b) || host_matches(b, a)
}

/// The VirtualServices sidecars may use, with every `host` their spec names (destinations,
/// mirrors), completed. Read from JSON, so that a destination in a field added later is not
/// missed.
fn mesh_routes(snapshot: &Snapshot) -> Vec<MeshRoute> {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    match (name.as_str(), field) {
                        ("host", Value::String(host)) => found.push(host.clone()),
                        _ => walk(field, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut routes = Vec::new();
    for config in snapshot.config().of_kind(Kind::VirtualService) {
        let Resource::VirtualService(vs) = &config.resource else {
            continue;
        };
        if !for_sidecars(&vs.spec.gateways) {
            continue;
        }
        let namespace = config.resource.namespace();
        let mut found = Vec::new();
        walk(&config.resource.to_json()["spec"], &mut found);
        routes.push(MeshRoute {
            namespace: namespace.to_string(),
            export_to: config.export_to.clone(),
            hosts: completed(snapshot, &vs.spec.hosts, namespace),
            destinations: completed(snapshot, &found, namespace),
        });
    }
    routes
}

/// Whether a VirtualService bound to `gateways` configures sidecars.
pub(super) fn for_sidecars(gateways: &[String]) -> bool {
    gateways.is_empty() || gateways.iter().any(|g| g == MESH_GATEWAY)
}

/// `hosts` written in a resource of `namespace`, completed as translation completes them.
pub(super) fn completed(snapshot: &Snapshot, hosts: &[String], namespace: &str) -> Vec<String> {
    hosts
        .iter()
        .map(|h| snapshot.resolve_host(h, namespace))
        .collect()
}
