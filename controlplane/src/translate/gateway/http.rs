//! The HTTP side of a gateway: a listener per HTTP port routed by RDS, and its route
//! configuration `http.<port>` with a virtual host per server host a VirtualService binds; an
//! HTTPS server's chain has the same connection manager and a route configuration of its own.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::core::v3::TrafficDirection;
use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{
                AggregatedConfigSource, ApiVersion, ConfigSource,
                config_source::ConfigSourceSpecifier,
            },
            listener::v3::{Filter, FilterChain, Listener, filter::ConfigType},
            route::v3::{
                Route, RouteConfiguration, VirtualHost, route::Action,
                route_action::ClusterSpecifier, route_match::PathSpecifier,
                virtual_host::TlsRequirementType,
            },
        },
        extensions::filters::network::http_connection_manager::v3::{
            HttpConnectionManager, Rds,
            http_connection_manager::{CodecType, RouteSpecifier, Tracing},
        },
    },
    google::protobuf::BoolValue,
};
use envoy_types::util::pack_any;

use super::{Bound, Scope, bound_virtual_services, names};
use crate::{
    model::Snapshot,
    translate::{
        Proxy,
        endpoint::socket_address,
        fault, hash_policy, http_action,
        http_route::{self, Caller},
        listener,
    },
};

/// Istio's name for the route configuration of a gateway's HTTP port.
pub fn route_config_name(port: u16) -> String {
    format!("http.{port}")
}

/// Istio's name for the route configuration of an HTTPS server, which has its own:
/// `https.<port>.<port name>.<Gateway name>.<Gateway namespace>`.
pub fn https_route_config_name(port: u16, bound: &Bound) -> String {
    let name = bound
        .gateway
        .split_once('/')
        .map_or(bound.gateway, |(_, name)| name);
    format!(
        "https.{port}.{}.{name}.{}",
        bound.server.port.name, bound.namespace
    )
}

/// The listener of an HTTP port: one chain, its routes from RDS, tracing with `tracing`.
pub fn listener(port: u16, bind: &str, tracing: Option<&Tracing>) -> Listener {
    Listener {
        name: format!("{bind}_{port}"),
        address: Some(socket_address(bind, port)),
        traffic_direction: TrafficDirection::Outbound as i32,
        filter_chains: vec![FilterChain {
            filters: vec![manager(port, bind, &route_config_name(port), tracing)],
            ..FilterChain::default()
        }],
        ..Listener::default()
    }
}

/// The HTTP connection manager of a chain, routed by the route configuration `routes` from
/// RDS. The gateway is the edge, so it trusts no client's `X-Forwarded-For` and records the
/// peer address itself.
pub fn manager(port: u16, bind: &str, routes: &str, tracing: Option<&Tracing>) -> Filter {
    let manager = HttpConnectionManager {
        stat_prefix: format!("outbound_{bind}_{port}"),
        codec_type: CodecType::Auto as i32,
        use_remote_address: Some(BoolValue { value: true }),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ConfigSource {
                config_source_specifier: Some(ConfigSourceSpecifier::Ads(
                    AggregatedConfigSource {},
                )),
                resource_api_version: ApiVersion::V3 as i32,
                ..ConfigSource::default()
            }),
            route_config_name: routes.to_string(),
        })),
        // VirtualServices may fault requests and answer CORS, so the fault then the CORS filter
        // go before the router, as Istio orders them.
        http_filters: vec![
            fault::filter(),
            http_action::cors_filter(),
            listener::router(),
        ],
        tracing: tracing.cloned(),
        ..HttpConnectionManager::default()
    };
    Filter {
        name: "envoy.filters.network.http_connection_manager".to_string(),
        config_type: Some(ConfigType::TypedConfig(pack_any(manager))),
    }
}

/// The route configuration `name` of the servers on `port` (every HTTP server of the port, or
/// one HTTPS server): for each VirtualService bound to the server's
/// Gateway whose hosts meet the server's, its HTTP routes (those whose matches apply to the
/// port and to this gateway proxy: its Gateway, labels and namespace) under each host they
/// share. The VirtualServices of one host are merged, in Istio's order. A host no
/// VirtualService routes gets no virtual host, so Envoy answers 404; when no host is routed at
/// all, an empty `blackhole` host says so, as Istio's does.
pub fn route_configuration(
    snapshot: &Snapshot,
    proxy: &Proxy,
    name: String,
    port: u16,
    servers: &[Bound],
) -> RouteConfiguration {
    let namespace = proxy.namespace.as_str();
    let mut hosts: BTreeMap<String, VirtualHost> = BTreeMap::new();
    // A VirtualService bound to two servers of one host adds its routes once.
    let mut added = BTreeSet::new();
    for bound in servers {
        let redirect = bound
            .server
            .tls
            .as_ref()
            .and_then(|tls| tls.https_redirect)
            .unwrap_or(false);
        for (index, (vs, vs_namespace)) in
            bound_virtual_services(snapshot, namespace, bound.gateway)
                .into_iter()
                .enumerate()
        {
            let server_hosts =
                names::server_hosts(&bound.server.hosts, bound.namespace, vs_namespace);
            let vs_hosts: Vec<String> = vs
                .hosts
                .iter()
                .map(|h| snapshot.resolve_host(h, vs_namespace))
                .collect();
            let shared = names::intersect(&server_hosts, &vs_hosts);
            let mut routes: Vec<_> = vs
                .http
                .iter()
                .flat_map(|route| {
                    http_route::routes(
                        snapshot,
                        vs_namespace,
                        port,
                        route,
                        Caller::new(Scope::Gateway(bound.gateway), proxy),
                    )
                })
                .collect();
            if routes.is_empty() {
                continue;
            }
            hash_policy::apply_for(snapshot, namespace, &proxy.labels, &mut routes);
            for host in shared {
                if !added.insert((bound.gateway, index, host.clone())) {
                    continue;
                }
                let virtual_host = hosts
                    .entry(host.clone())
                    .or_insert_with(|| virtual_host(&host, port));
                if redirect {
                    virtual_host.require_tls = TlsRequirementType::All as i32;
                }
                if virtual_host.routes.is_empty() {
                    virtual_host.routes = routes.clone();
                } else {
                    combine(&mut virtual_host.routes, &routes);
                }
            }
        }
    }
    let mut virtual_hosts: Vec<VirtualHost> = hosts.into_values().collect();
    if virtual_hosts.is_empty() {
        virtual_hosts.push(VirtualHost {
            name: format!("blackhole:{port}"),
            domains: vec!["*".to_string()],
            ..VirtualHost::default()
        });
    }
    RouteConfiguration {
        name,
        virtual_hosts,
        validate_clusters: Some(BoolValue { value: false }),
        ..RouteConfiguration::default()
    }
}

/// Appends the routes of a later VirtualService to a host's, as Istio merges them: the routes
/// that match every request go last, so that neither VirtualService's catch-all hides the
/// other's specific routes; the others keep their order.
fn combine(routes: &mut Vec<Route>, later: &[Route]) {
    let (catch_all, specific): (Vec<Route>, Vec<Route>) = std::mem::take(routes)
        .into_iter()
        .chain(later.iter().cloned())
        .partition(is_catch_all);
    *routes = specific;
    routes.extend(catch_all);
}

/// A route for every path, with no header or query condition.
fn is_catch_all(route: &Route) -> bool {
    route.r#match.as_ref().is_some_and(|m| {
        let every_path = match &m.path_specifier {
            Some(PathSpecifier::Prefix(prefix)) => prefix == "/",
            Some(PathSpecifier::SafeRegex(regex)) => regex.regex == ".*" || regex.regex == "*",
            _ => false,
        };
        every_path && m.headers.is_empty() && m.query_parameters.is_empty()
    })
}

/// A virtual host for `host`, reached as `host` or `host:port`; `*` needs no second form.
fn virtual_host(host: &str, port: u16) -> VirtualHost {
    let mut domains = vec![host.to_string()];
    if host != "*" {
        domains.push(format!("{host}:{port}"));
    }
    VirtualHost {
        name: format!("{host}:{port}"),
        domains,
        ..VirtualHost::default()
    }
}

/// The clusters the routes send to.
pub fn clusters(config: &RouteConfiguration) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for route in config.virtual_hosts.iter().flat_map(|v| &v.routes) {
        let Some(Action::Route(action)) = &route.action else {
            continue;
        };
        match &action.cluster_specifier {
            Some(ClusterSpecifier::Cluster(name)) => {
                out.insert(name.clone());
            }
            Some(ClusterSpecifier::WeightedClusters(weighted)) => {
                out.extend(weighted.clusters.iter().map(|c| c.name.clone()));
            }
            _ => {}
        }
    }
    out
}
