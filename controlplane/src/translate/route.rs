//! RouteConfigurations: one per HTTP port, a virtual host per service on it, with the routes
//! of the VirtualService for that host or the default route to the service.

use envoy_types::pb::envoy::config::route::v3::{
    DirectResponseAction, RetryPolicy, Route, RouteAction, RouteConfiguration, RouteMatch,
    VirtualHost,
    retry_policy::{RetryHostPredicate, retry_host_predicate::ConfigType},
    route::Action,
    route_action::ClusterSpecifier,
    route_match::PathSpecifier,
};
use envoy_types::pb::google::protobuf::{Any, UInt32Value};
use mesh_common::api::{Kind, Resource, VirtualServiceSpec};

use super::{
    EgressScope, Fallback, Proxy, cluster_name, duration,
    gateway::Scope,
    hash_policy,
    http_route::{self, Caller},
};
use crate::model::{Service, Snapshot, host_matches, istio_order};

/// What Istio retries when a route says nothing: failures before any response byte, and 503.
pub const DEFAULT_RETRY_ON: &str =
    "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

/// The route configuration named after `port` for a sidecar: the routes of a VirtualService
/// are those whose matches apply to this port and to the sidecar (its namespace and labels).
pub fn route_configuration(
    snapshot: &Snapshot,
    proxy: &Proxy,
    port: u16,
    services: &[&Service],
    scope: &EgressScope,
) -> RouteConfiguration {
    let mut virtual_hosts: Vec<VirtualHost> = services
        .iter()
        .map(|service| virtual_host(snapshot, proxy, port, service, scope))
        .collect();
    virtual_hosts.push(fallback_host(scope.fallback()));
    RouteConfiguration {
        name: port.to_string(),
        virtual_hosts,
        validate_clusters: Some(envoy_types::pb::google::protobuf::BoolValue { value: false }),
        ..RouteConfiguration::default()
    }
}

fn virtual_host(
    snapshot: &Snapshot,
    proxy: &Proxy,
    port: u16,
    service: &Service,
    scope: &EgressScope,
) -> VirtualHost {
    let namespace = proxy.namespace.as_str();
    let caller = Caller::new(Scope::Mesh, proxy);
    let mut routes = match virtual_service(snapshot, namespace, port, &service.hostname, scope) {
        Some((spec, vs_namespace)) => spec
            .http
            .iter()
            .flat_map(|route| http_route::routes(snapshot, vs_namespace, port, route, caller))
            .collect(),
        None => vec![Route {
            name: "default".to_string(),
            r#match: Some(RouteMatch {
                path_specifier: Some(PathSpecifier::Prefix("/".to_string())),
                ..RouteMatch::default()
            }),
            action: Some(Action::Route(RouteAction {
                cluster_specifier: Some(ClusterSpecifier::Cluster(cluster_name(
                    port,
                    "",
                    &service.hostname,
                ))),
                timeout: Some(duration(std::time::Duration::ZERO)),
                retry_policy: Some(retry_policy(2, DEFAULT_RETRY_ON, vec![503])),
                ..RouteAction::default()
            })),
            ..Route::default()
        }],
    };
    hash_policy::apply_for(snapshot, namespace, &proxy.labels, &mut routes);
    VirtualHost {
        name: format!("{}:{port}", service.hostname),
        domains: domains(snapshot, namespace, port, service),
        routes,
        ..VirtualHost::default()
    }
}

/// The oldest VirtualService (in Istio's order: creation time, then name and namespace) for
/// the mesh whose hosts include `hostname` and that the proxy's egress hosts admit on `port`,
/// with its namespace, which completes its short host names. Sidecars, unlike gateways, do not
/// merge the VirtualServices of one host: the others are reported as conflicting when the
/// snapshot is built.
pub fn virtual_service<'a>(
    snapshot: &'a Snapshot,
    namespace: &'a str,
    port: u16,
    hostname: &str,
    scope: &EgressScope,
) -> Option<(&'a VirtualServiceSpec, &'a str)> {
    snapshot
        .visible_config(Kind::VirtualService, namespace)
        .filter_map(|config| {
            let Resource::VirtualService(vs) = &config.resource else {
                return None;
            };
            let for_mesh =
                vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == "mesh");
            let vs_namespace = config.resource.namespace();
            let hosts: Vec<String> = vs
                .spec
                .hosts
                .iter()
                .map(|h| snapshot.resolve_host(h, vs_namespace))
                .collect();
            let matches = hosts.iter().any(|h| host_matches(h, hostname));
            (for_mesh && matches && scope.admits_virtual_service(vs_namespace, &hosts, port))
                .then_some((config, &vs.spec, vs_namespace))
        })
        .min_by(|a, b| istio_order(a.0).cmp(&istio_order(b.0)))
        .map(|(_, spec, vs_namespace)| (spec, vs_namespace))
}

/// Every name a client may use for the service, as Istio lists them: the FQDN, and for a
/// Kubernetes service `name.namespace.svc`, `name.namespace` and — from its own namespace —
/// the bare name; each with and without the port, and the VIPs likewise.
fn domains(snapshot: &Snapshot, namespace: &str, port: u16, service: &Service) -> Vec<String> {
    let mut names = vec![service.hostname.clone()];
    let suffix = format!(
        ".{}.svc.{}",
        service.namespace,
        snapshot.mesh().cluster_domain
    );
    if let Some(name) = service.hostname.strip_suffix(&suffix) {
        if namespace == service.namespace {
            names.push(name.to_string());
        }
        names.push(format!("{name}.{}.svc", service.namespace));
        names.push(format!("{name}.{}", service.namespace));
    }
    names.extend(
        service
            .addresses
            .iter()
            .filter(|a| !a.contains('/'))
            .cloned(),
    );
    names
        .into_iter()
        .flat_map(|n| [format!("{n}:{port}"), n].into_iter().rev())
        .collect()
}

/// Requests for hosts no service matches: passed through (or to the egress proxy), or refused
/// with 502 under `REGISTRY_ONLY`, as Istio does.
fn fallback_host(fallback: &Fallback) -> VirtualHost {
    let (name, action) = match fallback {
        Fallback::Passthrough | Fallback::EgressProxy(_) => (
            "allow_any",
            Action::Route(RouteAction {
                cluster_specifier: Some(ClusterSpecifier::Cluster(fallback.cluster().to_string())),
                timeout: Some(duration(std::time::Duration::ZERO)),
                ..RouteAction::default()
            }),
        ),
        Fallback::Blackhole => (
            "block_all",
            Action::DirectResponse(DirectResponseAction {
                status: 502,
                ..DirectResponseAction::default()
            }),
        ),
    };
    VirtualHost {
        name: name.to_string(),
        domains: vec!["*".to_string()],
        routes: vec![Route {
            name: name.to_string(),
            r#match: Some(RouteMatch {
                path_specifier: Some(PathSpecifier::Prefix("/".to_string())),
                ..RouteMatch::default()
            }),
            action: Some(action),
            ..Route::default()
        }],
        ..VirtualHost::default()
    }
}

/// The retry host predicate that steers a retry away from the hosts already tried.
const PREVIOUS_HOSTS: &str = "envoy.retry_host_predicates.previous_hosts";
const PREVIOUS_HOSTS_TYPE: &str =
    "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate";
/// How many times Istio lets a retry pick again to find a host not tried yet.
const HOST_SELECTION_RETRY_MAX_ATTEMPTS: i64 = 5;

/// Istio's retry policy: `attempts` retries on `retry_on`, each steered away from the hosts
/// already tried (the `previous_hosts` predicate, with up to 5 picks), so that a retry after
/// a dead endpoint goes elsewhere.
pub fn retry_policy(attempts: u32, retry_on: &str, status_codes: Vec<u32>) -> RetryPolicy {
    RetryPolicy {
        retry_on: retry_on.to_string(),
        num_retries: Some(UInt32Value { value: attempts }),
        retriable_status_codes: status_codes,
        retry_host_predicate: vec![RetryHostPredicate {
            name: PREVIOUS_HOSTS.to_string(),
            config_type: Some(ConfigType::TypedConfig(Any {
                type_url: PREVIOUS_HOSTS_TYPE.to_string(),
                value: Vec::new(),
            })),
        }],
        host_selection_retry_max_attempts: HOST_SELECTION_RETRY_MAX_ATTEMPTS,
        ..RetryPolicy::default()
    }
}

#[cfg(test)]
mod tests;
