//! Translation for a gateway proxy (a proxy of kind `router`): the servers of the Gateways that
//! select it, and the VirtualServices bound to those Gateways, as Istio translates them.
//!
//! One listener per server port, on every address (or the server's `bind`): HTTP servers route
//! by RDS (`http.<port>`), TCP servers proxy to the destination of the bound `tcp` route, and
//! the HTTPS and TLS servers of a port share a listener with a chain per server, chosen by
//! SNI (`secure`): a server that terminates TLS has its certificates there (`tls`), from
//! files or over SDS, a `PASSTHROUGH` server picks a `tls` route by SNI, and an
//! `AUTO_PASSTHROUGH` server sends each connection, TLS untouched, to the cluster its SNI names
//! (`sni_dnat`). `ISTIO_MUTUAL` servers are left out and reported. The clusters are the
//! destinations the routes name, built as a sidecar's are, the SNI-DNAT clusters of every
//! service when an `AUTO_PASSTHROUGH` server is served, and the tracing collector's when HTTP
//! servers trace (`proxy::trace`).
//!
//! Gateways in every namespace apply (Istio's default; it can scope them to the proxy's
//! namespace instead). The warnings go to the log each time a proxy's configuration is built;
//! [`gateway_report`] gives them to callers that show them elsewhere.

mod http;
mod names;
mod secure;
mod sni_dnat;
mod tcp;
mod tls;

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use mesh_common::api::{Kind, Resource, Server, ServerTlsMode, Subset, VirtualServiceSpec};

pub use self::names::{Scope, resolve_gateway_name, selects};
use super::{Proxy, Resources, cluster, endpoint, policy, proxy::trace};
use crate::model::{Protocol, Resolution, Service, Snapshot, istio_order};

/// The configuration of a gateway proxy. What cannot be served (a TLS mode mesh.rs does not
/// serve yet, a protocol a gateway cannot speak, a port two servers claim with different
/// protocols, an SNI name two TLS servers of a port claim) is left out and logged as a
/// warning, as are the TLS settings a served server leaves aside; [`gateway_report`] returns
/// the same warnings.
pub fn gateway(snapshot: &Snapshot, proxy: &Proxy) -> Resources {
    let (resources, warnings) = translate(snapshot, proxy);
    for warning in &warnings {
        tracing::warn!(pod = %proxy.pod, namespace = %proxy.namespace, "{warning}");
    }
    resources
}

/// The servers [`gateway`] leaves out for this proxy and the settings it leaves aside, and
/// why, one line each.
pub fn gateway_report(snapshot: &Snapshot, proxy: &Proxy) -> Vec<String> {
    translate(snapshot, proxy).1
}

/// One server of a Gateway that selects the proxy.
#[derive(Clone, Copy, Debug)]
struct Bound<'a> {
    /// `<namespace>/<name>` of the Gateway, as VirtualServices name it.
    gateway: &'a str,
    namespace: &'a str,
    /// The server's index in the Gateway's `servers`.
    index: usize,
    server: &'a Server,
}

// === impl Bound ===

impl Bound<'_> {
    /// How warnings name the server.
    fn what(&self) -> String {
        format!(
            "Gateway {} server {} (port {} {})",
            self.gateway, self.index, self.server.port.number, self.server.port.protocol
        )
    }
}

/// How a port is served; every server on one port must agree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Http,
    Tcp,
    /// HTTPS and TLS servers, terminating TLS or passing it through, by SNI.
    Tls,
}

// === impl Class ===

impl Class {
    fn name(self) -> &'static str {
        match self {
            Class::Http => "HTTP",
            Class::Tcp => "TCP",
            Class::Tls => "TLS",
        }
    }
}

/// The VirtualServices proxies in `namespace` see that are bound to `gateway`, with their
/// namespace, in Istio's order (creation time, then name and namespace): the order in which a
/// gateway merges the routes of several VirtualServices for one host.
fn bound_virtual_services<'a>(
    snapshot: &'a Snapshot,
    namespace: &'a str,
    gateway: &str,
) -> Vec<(&'a VirtualServiceSpec, &'a str)> {
    let mut bound: Vec<_> = snapshot
        .visible_config(Kind::VirtualService, namespace)
        .filter_map(|config| {
            let Resource::VirtualService(vs) = &config.resource else {
                return None;
            };
            let vs_namespace = config.resource.namespace();
            vs.spec
                .gateways
                .iter()
                .any(|g| resolve_gateway_name(g, vs_namespace) == gateway)
                .then_some((config, &vs.spec, vs_namespace))
        })
        .collect();
    bound.sort_by(|a, b| istio_order(a.0).cmp(&istio_order(b.0)));
    bound
        .into_iter()
        .map(|(_, spec, vs_namespace)| (spec, vs_namespace))
        .collect()
}

fn translate(snapshot: &Snapshot, proxy: &Proxy) -> (Resources, Vec<String>) {
    let mut warnings = Vec::new();
    let gateways: Vec<(String, &str, &[Server])> = snapshot
        .config()
        .of_kind(Kind::Gateway)
        .iter()
        .filter_map(|config| match &config.resource {
            Resource::Gateway(gw) if selects(&gw.spec.selector, &proxy.labels) => Some((
                format!("{}/{}", config.resource.namespace(), config.resource.name()),
                config.resource.namespace(),
                gw.spec.servers.as_slice(),
            )),
            _ => None,
        })
        .collect();
    // The first server of a port decides how the port is served, in Istio's Gateway order.
    let mut ports: BTreeMap<u16, (Class, Vec<Bound>)> = BTreeMap::new();
    for (name, namespace, servers) in &gateways {
        for (index, server) in servers.iter().enumerate() {
            let bound = Bound {
                gateway: name,
                namespace,
                index,
                server,
            };
            let what = bound.what();
            let class = match classify(server) {
                Ok(class) => class,
                Err(why) => {
                    warnings.push(format!("{what}: {why}"));
                    continue;
                }
            };
            let Ok(port) = u16::try_from(server.port.number) else {
                warnings.push(format!("{what}: not a TCP port number"));
                continue;
            };
            let (first, servers) = ports.entry(port).or_insert((class, Vec::new()));
            if *first != class {
                let owner = servers.first().map_or("", |b| b.gateway);
                warnings.push(format!(
                    "{what}: port {port} is already served as {} by Gateway {owner}",
                    first.name()
                ));
                continue;
            }
            servers.push(bound);
        }
    }

    let mut out = Resources::default();
    let mut referenced = BTreeSet::new();
    let mut sni_dnat = false;
    // The OTLP collector's cluster is built as a route's destination is.
    let traced = trace::for_proxy(snapshot, proxy, &|service, port| {
        service.resolution == Resolution::ClientSideLb
            && !service.hostname.contains('*')
            && service.export_to.is_visible_from(&proxy.namespace)
            && service
                .ports
                .iter()
                .any(|p| p.number == port && p.protocol != Protocol::Udp)
    });
    warnings.extend(traced.warnings.iter().cloned());
    let tracing = traced.tracing.as_ref();
    for (&port, (class, servers)) in &ports {
        let built = match class {
            Class::Http => {
                let name = http::route_config_name(port);
                let routes = http::route_configuration(snapshot, proxy, name, port, servers);
                let clusters = http::clusters(&routes);
                out.routes.push(routes);
                referenced.extend(traced.collector.clone());
                Some((http::listener(port, bind(servers), tracing), clusters))
            }
            Class::Tcp => tcp::tcp_listener(snapshot, proxy, port, servers),
            Class::Tls => secure::listener(snapshot, proxy, port, servers, tracing, &mut warnings)
                .map(|built| {
                    if !built.routes.is_empty() {
                        referenced.extend(traced.collector.clone());
                    }
                    out.routes.extend(built.routes);
                    sni_dnat |= built.sni_dnat;
                    (built.listener, built.clusters)
                }),
        };
        if let Some((listener, clusters)) = built {
            referenced.extend(clusters);
            out.listeners.push(listener);
        }
    }
    add_clusters(snapshot, proxy, &referenced, &mut out);
    if sni_dnat {
        sni_dnat::add_clusters(snapshot, proxy, &mut out);
    }
    out.clusters.sort_by(|a, b| a.name.cmp(&b.name));
    out.endpoints
        .sort_by(|a, b| a.cluster_name.cmp(&b.cluster_name));
    out.listeners.sort_by(|a, b| a.name.cmp(&b.name));
    out.routes.sort_by(|a, b| a.name.cmp(&b.name));
    (out, warnings)
}

/// How a server is served, or why it cannot be.
fn classify(server: &Server) -> Result<Class, String> {
    let mode = server.tls.as_ref().and_then(|tls| tls.mode);
    let protocol = Protocol::parse(&server.port.protocol)
        .ok_or_else(|| format!("unknown protocol {:?}", server.port.protocol))?;
    match protocol {
        Protocol::Http | Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb => Ok(Class::Http),
        Protocol::Tcp | Protocol::Mongo | Protocol::Mysql | Protocol::Redis => Ok(Class::Tcp),
        // No mode is Istio's default, PASSTHROUGH.
        Protocol::Https | Protocol::Tls => match mode {
            None
            | Some(
                ServerTlsMode::Passthrough
                | ServerTlsMode::AutoPassthrough
                | ServerTlsMode::Simple
                | ServerTlsMode::Mutual
                | ServerTlsMode::OptionalMutual,
            ) => Ok(Class::Tls),
            Some(ServerTlsMode::IstioMutual) => Err(
                "tls mode ISTIO_MUTUAL is not supported yet: it needs the mesh's certificate \
                 authority; use MUTUAL with credentialName"
                    .to_string(),
            ),
        },
        Protocol::Udp | Protocol::Auto => Err(format!("a gateway cannot serve {protocol}")),
    }
}

/// The address the port listens on: the first server's `bind`, else every address.
fn bind<'a>(servers: &[Bound<'a>]) -> &'a str {
    servers
        .first()
        .map(|b| b.server.bind.as_str())
        .filter(|b| !b.is_empty())
        .unwrap_or("0.0.0.0")
}

/// The clusters, and their endpoints, of the referenced names that are ports or subsets of a
/// service the proxy sees; a name of no such service gets none, and its requests fail as in
/// Istio (503, no cluster). The DestinationRules are the ones the gateway's namespace and
/// labels pick, a `workloadSelector` included, as for a sidecar.
fn add_clusters(
    snapshot: &Snapshot,
    proxy: &Proxy,
    referenced: &BTreeSet<String>,
    out: &mut Resources,
) {
    let mut built = BTreeSet::new();
    for service in snapshot.visible_services(&proxy.namespace) {
        if service.resolution != Resolution::ClientSideLb || service.hostname.contains('*') {
            continue;
        }
        let rule = policy::destination_rule_for(snapshot, &proxy.namespace, &proxy.labels, service);
        for port in service.ports.iter().filter(|p| p.protocol != Protocol::Udp) {
            let subsets = policy::subsets(rule);
            let candidates = std::iter::once(None).chain(subsets.iter().map(Some));
            for subset in candidates {
                let name = subset.map_or("", |s| s.name.as_str());
                let cluster_name = super::cluster_name(port.number, name, &service.hostname);
                // Two services of one hostname (in two namespaces) name one cluster: the
                // first, in namespace order, wins, as for sidecars' routes.
                if !referenced.contains(&cluster_name) || !built.insert(cluster_name) {
                    continue;
                }
                let policy = policy::policy(rule, subset, port.number);
                let cluster = cluster::outbound(
                    service,
                    port.number,
                    name,
                    port.protocol,
                    &policy,
                    snapshot.mesh(),
                );
                push_with_assignment(out, cluster, service, port.number, subset);
            }
        }
    }
}

/// Adds `cluster` of `service`'s `port`, and its load assignment: the endpoints of `subset`,
/// or all of them.
fn push_with_assignment(
    out: &mut Resources,
    cluster: Cluster,
    service: &Service,
    port: u16,
    subset: Option<&Subset>,
) {
    let empty = BTreeMap::new();
    let labels = subset.map_or(&empty, |s| &s.labels);
    out.endpoints
        .push(endpoint::assignment(&cluster.name, service, port, labels));
    out.clusters.push(cluster);
}

#[cfg(test)]
mod tests;
