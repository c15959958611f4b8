//! Translation: a [`Snapshot`] and the [`Proxy`] asking, to the Envoy resources that proxy
//! needs. Pure and synchronous: equal inputs give equal resources, in name order, so that the
//! ADS server can compare versions and golden files stay stable.
//!
//! This first translation configures sidecars for services the proxy balances itself
//! (Kubernetes Services and ServiceEntries with `resolution: STATIC`); services resolved by
//! DNS or passed through, wildcard hosts and UDP ports get no clusters yet. A `Sidecar`
//! resource's egress hosts narrow the services a sidecar is configured for, on top of
//! `exportTo`. Of the Istio config, it honours the fields the support table marks implemented;
//! the others are reported to the user as warnings when the snapshot is built.

mod cluster;
mod egress;
mod endpoint;
mod fault;
mod gateway;
mod hash_policy;
mod http_action;
mod http_route;
mod inbound;
mod listener;
mod metadata;
mod policy;
mod proxy;
mod resilience;
mod route;
mod shape;
mod tcp_route;
mod tls;

use std::collections::BTreeMap;

use envoy_types::pb::{
    envoy::config::{
        cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
        route::v3::RouteConfiguration,
    },
    google::protobuf::Duration,
};

pub use self::egress::{EgressScope, Fallback};
pub use self::endpoint::{AssignmentSource, sidecar_sources};
pub use self::gateway::{gateway, gateway_report};
pub(crate) use self::proxy::trace;
pub use self::{
    inbound::INBOUND_PORT,
    listener::OUTBOUND_PORT,
    proxy::{Proxy, ProxyError, ProxyKind, string_value},
    route::DEFAULT_RETRY_ON,
    shape::{OutboundKey, outbound_key, selected_label_keys},
};
use crate::model::{Protocol, Resolution, Service, Snapshot};

/// Where traffic to unknown hosts goes under `ALLOW_ANY`.
pub const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";
/// Where traffic to unknown hosts goes under `REGISTRY_ONLY`.
pub const BLACKHOLE_CLUSTER: &str = "BlackHoleCluster";

/// Everything one proxy is sent, each list in name order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    pub clusters: Vec<Cluster>,
    /// One per EDS cluster, named as it.
    pub endpoints: Vec<ClusterLoadAssignment>,
    pub listeners: Vec<Listener>,
    pub routes: Vec<RouteConfiguration>,
}

// === impl Resources ===

impl Resources {
    /// Adds `other`'s resources to these.
    pub fn append(&mut self, mut other: Resources) {
        self.clusters.append(&mut other.clusters);
        self.endpoints.append(&mut other.endpoints);
        self.listeners.append(&mut other.listeners);
        self.routes.append(&mut other.routes);
    }

    /// Puts each list in name order.
    pub fn sort(&mut self) {
        self.clusters.sort_by(|a, b| a.name.cmp(&b.name));
        self.endpoints
            .sort_by(|a, b| a.cluster_name.cmp(&b.cluster_name));
        self.listeners.sort_by(|a, b| a.name.cmp(&b.name));
        self.routes.sort_by(|a, b| a.name.cmp(&b.name));
    }
}

/// `outbound|<port>|<subset>|<hostname>`, Istio's cluster name, which its tools parse.
pub fn cluster_name(port: u16, subset: &str, hostname: &str) -> String {
    format!("outbound|{port}|{subset}|{hostname}")
}

/// The configuration of a sidecar: its outbound side ([`sidecar_outbound`]) and its inbound
/// side ([`sidecar_inbound`]), each list in name order.
pub fn sidecar(snapshot: &Snapshot, proxy: &Proxy) -> Resources {
    let mut out = sidecar_outbound(snapshot, proxy);
    out.append(sidecar_inbound(snapshot, proxy));
    out.sort();
    out
}

/// The outbound side of a sidecar: clusters, endpoints, listeners and routes for every
/// service port visible from its namespace that its Sidecar resource's egress hosts admit.
/// Reads the proxy's namespace and, through selectors, its labels (and, when the mesh traces,
/// what names its workload); nothing else (see [`OutboundKey`]), so that sidecars that agree
/// on those can share it.
pub fn sidecar_outbound(snapshot: &Snapshot, proxy: &Proxy) -> Resources {
    let mut scope = EgressScope::for_proxy(snapshot, proxy);
    let mut out = Resources::default();
    let mut by_port: BTreeMap<u16, Vec<(&Service, Protocol)>> = BTreeMap::new();
    for service in snapshot.visible_services(&proxy.namespace) {
        if service.resolution != Resolution::ClientSideLb || service.hostname.contains('*') {
            continue;
        }
        let rule = policy::destination_rule_for(snapshot, &proxy.namespace, &proxy.labels, service);
        for port in service.ports.iter().filter(|p| {
            p.protocol != Protocol::Udp
                && scope.admits_service(&service.namespace, &service.hostname, p.number)
        }) {
            by_port
                .entry(port.number)
                .or_default()
                .push((service, port.protocol));
            let whole = policy::policy(rule, None, port.number);
            let cluster = cluster::outbound(
                service,
                port.number,
                "",
                port.protocol,
                &whole,
                snapshot.mesh(),
            );
            out.endpoints.push(endpoint::assignment(
                &cluster.name,
                service,
                port.number,
                &BTreeMap::new(),
            ));
            out.clusters.push(cluster);
            for subset in policy::subsets(rule) {
                let subset_policy = policy::policy(rule, Some(subset), port.number);
                let cluster = cluster::outbound(
                    service,
                    port.number,
                    &subset.name,
                    port.protocol,
                    &subset_policy,
                    snapshot.mesh(),
                );
                out.endpoints.push(endpoint::assignment(
                    &cluster.name,
                    service,
                    port.number,
                    &subset.labels,
                ));
                out.clusters.push(cluster);
            }
        }
    }
    out.clusters.push(cluster::passthrough());
    out.clusters.push(cluster::blackhole());
    // The Sidecar's outbound traffic policy, else the mesh's; an egress proxy with no cluster
    // here fails closed.
    if let Some(warning) = scope.confirm_fallback(&out.clusters) {
        tracing::warn!(namespace = %proxy.namespace, "{warning}");
    }
    let fallback = scope.fallback().cluster();
    let traced = proxy::trace::for_proxy(snapshot, proxy, &|service, port| {
        scope.has_outbound_cluster(&proxy.namespace, service, port)
    });
    out.listeners.push(listener::virtual_outbound(fallback));
    for (&port, services) in &by_port {
        let tcp = |service: &Service, protocol: Protocol| {
            tcp_route::sidecar_chains(snapshot, proxy, &scope, port, (&service.hostname, protocol))
        };
        out.listeners.push(listener::outbound_port(
            port,
            services,
            fallback,
            &tcp,
            traced.tracing.as_ref(),
        ));
        let http: Vec<&Service> = services
            .iter()
            .filter(|(_, protocol)| protocol.is_http())
            .map(|(service, _)| *service)
            .collect();
        if !http.is_empty() {
            out.routes.push(route::route_configuration(
                snapshot, proxy, port, &http, &scope,
            ));
        }
    }
    out.sort();
    out
}

/// The load assignments of a sidecar's outbound side alone: what
/// [`sidecar_outbound`]`(..).endpoints` is, for a change that reached nothing but endpoints.
#[cfg(test)]
pub(crate) fn sidecar_endpoints(snapshot: &Snapshot, proxy: &Proxy) -> Vec<ClusterLoadAssignment> {
    endpoint::sidecar(snapshot, proxy, &EgressScope::for_proxy(snapshot, proxy))
}

/// The inbound side of a sidecar: a cluster for each port its own workload serves (the
/// endpoints at its addresses, or its Sidecar's `ingress` listeners) and the `virtualInbound`
/// listener. What it cannot honour is logged; [`sidecar_report`] returns it.
pub fn sidecar_inbound(snapshot: &Snapshot, proxy: &Proxy) -> Resources {
    let (resources, warnings) = inbound::sidecar(snapshot, proxy);
    for warning in &warnings {
        tracing::warn!(pod = %proxy.pod, namespace = %proxy.namespace, "{warning}");
    }
    resources
}

/// What a sidecar's translation leaves out or changes from its config, and why, one line each:
/// Sidecar ingress listeners it cannot serve, a tracing provider it cannot use, an egress
/// proxy it has no cluster for.
pub fn sidecar_report(snapshot: &Snapshot, proxy: &Proxy) -> Vec<String> {
    let mut warnings = inbound::sidecar(snapshot, proxy).1;
    let mut scope = EgressScope::for_proxy(snapshot, proxy);
    warnings.extend(scope.confirm_fallback(&sidecar_outbound(snapshot, proxy).clusters));
    warnings
}

/// A protobuf duration.
fn duration(d: std::time::Duration) -> Duration {
    Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}
