//! Which proxies a change between two snapshots affects, as Istio's push context tells it
//! (`ConfigsUpdated` and `ProxyDependentOnConfig`): a resource reaches the namespaces it is
//! exported to, a Gateway reaches the gateways, a Sidecar its namespace, and a change to a
//! service's endpoints alone reaches the load assignments of those who see the service. A
//! gateway reaches a service through the routes bound to its Gateways, or, once a Gateway has
//! an `AUTO_PASSTHROUGH` server, through the SNI-DNAT clusters it then has of every service
//! (Istio's `ContainsAutoPassthroughGateways`).
//!
//! Within those namespaces, a change to a service, a ServiceEntry, a VirtualService or a
//! DestinationRule reaches only the sidecars whose `Sidecar` egress hosts may admit what it
//! configures ([`egress`]).
//!
//! Correctness comes first: a proxy left out keeps a stale configuration, while one put in for
//! nothing costs a regeneration that sends nothing (versions are content hashes). So wherever
//! translation may read more than the rule here knows, the scope is widened.

mod egress;

use std::{collections::BTreeSet, sync::Arc};

use mesh_common::api::{Kind, Resource, ServerTlsMode};
use serde_json::Value;

use self::egress::{Egress, completed, for_sidecars};
use crate::{
    model::{
        Config, Diff, ExportTo, Resolution, Service, ServiceChange, Snapshot, host_matches,
        is_wildcard,
    },
    translate::trace,
    xds::{Affected, Proxies, Scope, Within},
};

/// The name that binds a VirtualService to the sidecars.
const MESH_GATEWAY: &str = "mesh";

/// The scope of the change from `before` to `after`, whose differences are `diff`.
pub fn scope(before: &Snapshot, after: &Snapshot, diff: &Diff) -> Scope {
    if diff.mesh {
        // Every translation reads the mesh config.
        return Scope::All;
    }
    let routes = GatewayRoutes::of(before, after);
    let root = after.mesh().root_namespace.as_str();
    // Each side is read with its own snapshot's Sidecars: a proxy whose Sidecar changed is
    // reached by that change anyway.
    let egress = [Egress::of(before), Egress::of(after)];
    let mut affected = Affected::default();
    for change in &diff.configs {
        let sides = [(before, &change.before), (after, &change.after)];
        for ((snapshot, side), egress) in sides.into_iter().zip(&egress) {
            if let Some(side) = side {
                config(
                    &mut affected.all_types,
                    (snapshot, egress),
                    side,
                    root,
                    &routes,
                );
            }
        }
    }
    for change in &diff.services {
        service(&mut affected, change, &egress, &routes);
        // Gateways that trace are sent the collector's cluster, whatever they route to.
        if !change.endpoints_only {
            for side in change.sides() {
                if trace::may_be_collector(after.mesh(), side) {
                    add(&mut affected.all_types.routers, &side.export_to);
                }
            }
        }
    }
    Scope::Some(affected).merge(super::generator::secrets::scope(before, after))
}

/// What one side (before or after) of an Istio resource's change reaches.
fn config(
    proxies: &mut Proxies,
    (snapshot, egress): (&Snapshot, &Egress),
    side: &Config,
    root: &str,
    routes: &GatewayRoutes,
) {
    let namespace = side.resource.namespace();
    let export_to = &side.export_to;
    match &side.resource {
        Resource::VirtualService(vs) => {
            // Sidecars use it when it names no gateway or `mesh`; gateways when it names one.
            // Match-level `gateways` only narrow what the top-level ones bind.
            let gateways = &vs.spec.gateways;
            if for_sidecars(gateways) {
                let hosts = completed(snapshot, &vs.spec.hosts, namespace);
                let within = egress.virtual_service(namespace, &hosts, export_to);
                proxies.sidecars.merge(within);
            }
            if gateways.iter().any(|g| g != MESH_GATEWAY) {
                add(&mut proxies.routers, export_to);
            }
        }
        Resource::DestinationRule(dr) => {
            let host = snapshot.resolve_host(&dr.spec.host, namespace);
            proxies
                .sidecars
                .merge(egress.destination_rule(&host, export_to));
            if routes.reaches(&host) {
                add(&mut proxies.routers, export_to);
            }
        }
        Resource::ServiceEntry(se) => {
            // Its services are compared on their own too; this also covers what they cannot
            // show, such as a host that makes no service.
            let hosts = completed(snapshot, &se.spec.hosts, namespace);
            for host in &hosts {
                let within = egress.service(namespace, host, export_to);
                proxies.sidecars.merge(within);
            }
            if hosts.iter().any(|h| routes.reaches(h)) {
                add(&mut proxies.routers, export_to);
            }
            let addresses = se.spec.endpoints.iter().map(|e| &e.address);
            proxies
                .addresses
                .extend(addresses.filter(|a| !a.is_empty()).cloned());
        }
        // A Gateway configures gateway proxies only; the VirtualServices bound to it did not
        // change, and reach no sidecar through it.
        Resource::Gateway(_) => proxies.routers = Within::All,
        // A Sidecar narrows the sidecars of its namespace, or of every namespace from the root
        // namespace (the mesh-wide default).
        Resource::Sidecar(_) if namespace == root => proxies.sidecars = Within::All,
        Resource::Sidecar(_) => proxies.sidecars.insert(namespace),
        // A WorkloadEntry is a workload: its own proxy's inbound side. The services that select
        // it change their endpoints, which are compared on their own.
        Resource::WorkloadEntry(we) => {
            if !we.spec.address.is_empty() {
                proxies.addresses.insert(we.spec.address.clone());
            }
        }
        // Workload policies apply to the workloads of their namespace, or of every namespace
        // from the root namespace.
        Resource::AuthorizationPolicy(_)
        | Resource::PeerAuthentication(_)
        | Resource::RequestAuthentication(_)
        | Resource::Telemetry(_) => {
            if namespace == root {
                proxies.sidecars = Within::All;
                proxies.routers = Within::All;
            } else {
                proxies.sidecars.insert(namespace);
                proxies.routers.insert(namespace);
            }
        }
    }
}

/// What one service's change reaches.
fn service(
    affected: &mut Affected,
    change: &ServiceChange,
    egress: &[Egress; 2],
    routes: &GatewayRoutes,
) {
    let endpoints_only = change.endpoints_only
        && change.sides().all(|s| endpoints_in_eds_only(s))
        && same_identities(change);
    let sides = [&change.before, &change.after];
    for (side, egress) in sides.into_iter().zip(egress) {
        let Some(side) = side else {
            continue;
        };
        let (namespace, hostname) = (side.namespace.as_str(), side.hostname.as_str());
        let proxies = if endpoints_only {
            let within = egress.endpoints(namespace, hostname, &side.export_to);
            affected.endpoints.sidecars.merge(within);
            &mut affected.endpoints
        } else {
            let within = egress.service(namespace, hostname, &side.export_to);
            affected.all_types.sidecars.merge(within);
            &mut affected.all_types
        };
        if routes.reaches(&side.hostname) {
            add(&mut proxies.routers, &side.export_to);
        }
    }
    // The workloads behind the changed addresses serve the service: their own proxies'
    // inbound side reads it. A changed definition (ports, say) reaches every one of them.
    let addresses = &mut affected.all_types.addresses;
    if endpoints_only {
        addresses.extend(change.addresses.iter().cloned());
    } else {
        for side in change.sides() {
            addresses.extend(side.endpoints.iter().map(|e| e.address.clone()));
        }
        addresses.extend(change.addresses.iter().cloned());
    }
}

/// Whether translation reads the service's endpoints only into load assignments (and the
/// inbound side of the workloads themselves): true of the services proxies balance over.
/// Endpoints of services resolved by DNS or passed through may end up in clusters.
fn endpoints_in_eds_only(service: &Service) -> bool {
    service.resolution == Resolution::ClientSideLb && !service.hostname.contains('*')
}

/// Whether the identities behind the service are the same: clusters may name them (the
/// subject alt names a client verifies), so a change of them is no endpoint-only change.
fn same_identities(change: &ServiceChange) -> bool {
    let identities = |service: &Option<Arc<Service>>| {
        service
            .iter()
            .flat_map(|s| s.endpoints.iter().map(|e| e.identity.clone()))
            .collect::<BTreeSet<_>>()
    };
    identities(&change.before) == identities(&change.after)
}

/// Adds the namespaces something is exported to.
fn add(within: &mut Within, export_to: &ExportTo) {
    match export_to {
        ExportTo::All => *within = Within::All,
        ExportTo::Namespaces(namespaces) => {
            for namespace in namespaces {
                within.insert(namespace);
            }
        }
    }
}

/// The hosts gateways route to, before and after: every host named anywhere in a
/// VirtualService bound to a Gateway (each destination, each mirror, and its own hosts but
/// wildcards), completed as translation completes them. A service none of them covers is not
/// in any gateway's configuration, unless a Gateway has an `AUTO_PASSTHROUGH` server: then its
/// gateways have a cluster of every service they see.
struct GatewayRoutes {
    hosts: Vec<String>,
    auto_passthrough: bool,
}

impl GatewayRoutes {
    fn of(before: &Snapshot, after: &Snapshot) -> Self {
        let mut hosts = Vec::new();
        let mut auto_passthrough = false;
        for snapshot in [before, after] {
            for config in snapshot.config().of_kind(Kind::VirtualService) {
                if bound_to_gateway(config) {
                    collect_hosts(snapshot, config, &mut hosts);
                }
            }
            auto_passthrough |= has_auto_passthrough(snapshot);
        }
        hosts.sort();
        hosts.dedup();
        GatewayRoutes {
            hosts,
            auto_passthrough,
        }
    }

    /// Whether a gateway may have a cluster of `host` (a name or a wildcard): it routes to a
    /// host either covering the other, or it has the SNI-DNAT clusters of every host.
    fn reaches(&self, host: &str) -> bool {
        self.auto_passthrough
            || self
                .hosts
                .iter()
                .any(|h| host_matches(h, host) || host_matches(host, h))
    }
}

/// Whether a Gateway of the snapshot has an `AUTO_PASSTHROUGH` server. Which proxies it
/// selects is left aside: a scope names gateways by namespace only.
fn has_auto_passthrough(snapshot: &Snapshot) -> bool {
    snapshot
        .config()
        .of_kind(Kind::Gateway)
        .iter()
        .any(|config| match &config.resource {
            Resource::Gateway(gw) => gw.spec.servers.iter().any(|server| {
                server.tls.as_ref().and_then(|tls| tls.mode) == Some(ServerTlsMode::AutoPassthrough)
            }),
            _ => false,
        })
}

fn bound_to_gateway(config: &Config) -> bool {
    let Resource::VirtualService(vs) = &config.resource else {
        return false;
    };
    vs.spec.gateways.iter().any(|g| g != MESH_GATEWAY)
}

/// Every `host` and `hosts` value of the resource's spec, completed. Read from its JSON so
/// that a destination in a field added later is not missed; only VirtualServices bound to a
/// gateway are read, a handful in most meshes.
fn collect_hosts(snapshot: &Snapshot, config: &Config, out: &mut Vec<String>) {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(fields) => {
                for (name, field) in fields {
                    match (name.as_str(), field) {
                        ("host", Value::String(host)) => found.push(host.clone()),
                        // A VirtualService's own hosts are the names it answers to; a
                        // gateway reads the registry for one only to complete
                        // `name.namespace`, which a wildcard never is.
                        ("hosts", Value::Array(hosts)) => found.extend(
                            hosts
                                .iter()
                                .filter_map(Value::as_str)
                                .filter(|h| !is_wildcard(h))
                                .map(str::to_string),
                        ),
                        _ => walk(field, found),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(&config.resource.to_json()["spec"], &mut found);
    let namespace = config.resource.namespace();
    out.extend(found.iter().map(|h| snapshot.resolve_host(h, namespace)));
}

#[cfg(test)]
mod tests;
