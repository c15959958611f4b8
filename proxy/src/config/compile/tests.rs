//! Compiling listeners and clusters: what each field becomes, and the exact refusals. The
//! builders shared by the test modules are here; the tests sit in one module per compiler.

use envoy_types::pb::envoy::config::{
    cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
};
use mesh_xds::json::from_yaml;

use crate::config_error::ConfigError;

mod apply;
mod cluster;
mod listener;
mod network;
mod outlier;

pub(super) const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
pub(super) const TCP: &str =
    "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
pub(super) const ROUTER: &str =
    "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

/// A listener from YAML.
pub(super) fn listener(yaml: &str) -> Listener {
    from_yaml(yaml).expect("test listener parses")
}

/// A cluster from YAML.
pub(super) fn cluster(yaml: &str) -> Cluster {
    from_yaml(yaml).expect("test cluster parses")
}

/// An HTTP listener on `port` routed by RDS `route`, with `extra` spliced into the HCM.
pub(super) fn http_listener(name: &str, port: u16, route: &str, extra: &str) -> Listener {
    listener(&format!(
        r#"
name: {name}
address: {{ socket_address: {{ address: 0.0.0.0, port_value: {port} }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {HCM}
          stat_prefix: {name}
          rds: {{ route_config_name: "{route}", config_source: {{ ads: {{}} }} }}
          http_filters:
            - name: envoy.filters.http.router
              typed_config: {{ "@type": {ROUTER} }}
{extra}
"#
    ))
}

/// A TCP proxy listener on `port` with `proxy` spliced into the `TcpProxy`.
pub(super) fn tcp_listener(name: &str, port: u16, proxy: &str) -> Listener {
    listener(&format!(
        r#"
name: {name}
address: {{ socket_address: {{ address: 0.0.0.0, port_value: {port} }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": {TCP}
          stat_prefix: {name}
{proxy}
"#
    ))
}

/// An EDS cluster over ADS with `service` as its `service_name`.
pub(super) fn eds_cluster(name: &str, service: &str) -> Cluster {
    cluster(&format!(
        "name: {name}\ntype: EDS\neds_cluster_config: {{ service_name: \"{service}\", eds_config: {{ ads: {{}} }} }}"
    ))
}

/// A load assignment for `name` with one endpoint per IP, on port 80.
pub(super) fn assignment(name: &str, ips: &[&str]) -> ClusterLoadAssignment {
    let endpoints: Vec<String> = ips
        .iter()
        .map(|ip| {
            format!(
                "{{ endpoint: {{ address: {{ socket_address: {{ address: {ip}, port_value: 80 }} }} }} }}"
            )
        })
        .collect();
    from_yaml(&format!(
        "cluster_name: \"{name}\"\nendpoints: [ {{ lb_endpoints: [ {} ] }} ]",
        endpoints.join(", ")
    ))
    .expect("test assignment parses")
}

/// The text of a refusal.
pub(super) fn error_text(result: Result<impl std::fmt::Debug, ConfigError>) -> String {
    result.expect_err("must be refused").to_string()
}
