//! The resources and discovery responses the fake control plane sends.

use envoy_types::pb::{
    envoy::{
        config::{
            cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
            route::v3::RouteConfiguration,
        },
        service::discovery::v3::{
            DeltaDiscoveryResponse, DiscoveryResponse, Resource as DeltaResource,
        },
    },
    google::protobuf::Any,
};
use mesh_xds::{
    json::from_yaml,
    resource::{Resource, ResourceType},
};

/// `resource` packed as a discovery response carries it.
pub fn any(resource: impl Into<Resource>) -> Any {
    resource.into().into_any()
}

/// An EDS cluster over ADS whose assignment is `service`.
pub fn eds_cluster(name: &str, service: &str) -> Cluster {
    from_yaml(&format!(
        "name: \"{name}\"\ntype: EDS\neds_cluster_config: {{ service_name: \"{service}\", eds_config: {{ ads: {{}} }} }}"
    ))
    .unwrap()
}

/// The assignment `name` with one endpoint, `ip`:80.
pub fn assignment(name: &str, ip: &str) -> ClusterLoadAssignment {
    from_yaml(&format!(
        "cluster_name: \"{name}\"\nendpoints: [ {{ lb_endpoints: [ {{ endpoint: {{ address: {{ socket_address: {{ address: {ip}, port_value: 80 }} }} }} }} ] }} ]"
    ))
    .unwrap()
}

/// A listener that does not bind, its connection manager routed by RDS `route`.
pub fn rds_listener(name: &str, route: &str) -> Listener {
    from_yaml(&format!(
        r#"
name: "{name}"
address: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}
bind_to_port: false
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          rds: {{ route_config_name: "{route}", config_source: {{ ads: {{}} }} }}
          http_filters: [ {{ name: envoy.filters.http.router }} ]
"#
    ))
    .unwrap()
}

/// The route configuration `name` with one route matching the path by `regex`.
pub fn route(name: &str, regex: &str) -> RouteConfiguration {
    from_yaml(&format!(
        "name: \"{name}\"\nvirtual_hosts: [ {{ name: v, domains: ['*'], routes: [ {{ match: {{ safe_regex: {{ regex: '{regex}' }} }}, route: {{ cluster: c }} }} ] }} ]"
    ))
    .unwrap()
}

/// A delta response of `kind`: `(name, version, resource)` added or changed, and `removed`.
pub fn delta(
    kind: ResourceType,
    nonce: &str,
    resources: Vec<(&str, &str, Any)>,
    removed: &[&str],
) -> DeltaDiscoveryResponse {
    DeltaDiscoveryResponse {
        system_version_info: format!("sys-{nonce}"),
        resources: resources
            .into_iter()
            .map(|(name, version, any)| DeltaResource {
                name: name.to_owned(),
                version: version.to_owned(),
                resource: Some(any),
                ..DeltaResource::default()
            })
            .collect(),
        type_url: kind.type_url().to_owned(),
        removed_resources: removed.iter().map(|s| s.to_string()).collect(),
        nonce: nonce.to_owned(),
        ..DeltaDiscoveryResponse::default()
    }
}

/// A state-of-the-world response of `kind` holding `resources`.
pub fn sotw(
    kind: ResourceType,
    version: &str,
    nonce: &str,
    resources: Vec<Any>,
) -> DiscoveryResponse {
    DiscoveryResponse {
        version_info: version.to_owned(),
        resources,
        type_url: kind.type_url().to_owned(),
        nonce: nonce.to_owned(),
        ..DiscoveryResponse::default()
    }
}
