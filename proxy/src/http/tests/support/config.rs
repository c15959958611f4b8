//! Configuration built for the tests: connection managers, route tables and clusters.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use envoy_types::pb::envoy::config::{
    endpoint::v3::ClusterLoadAssignment, route::v3::RouteConfiguration,
};
use mesh_xds::json::from_yaml;

use crate::{
    balance::{Algorithm, EndpointSet},
    config::{
        ClusterConfig, Discovery, HttpConnectionManager, RouteSource, Snapshot, UpstreamProtocol,
    },
    route::RouteTable,
};

/// An HTTP connection manager with an inline route table and access logs on.
pub fn hcm(routes: &str) -> Arc<HttpConnectionManager> {
    Arc::new(HttpConnectionManager {
        stat_prefix: "test".to_owned(),
        codec: Default::default(),
        routes: RouteSource::Inline(table(routes)),
        access_log: true,
        generate_request_id: true,
        use_remote_address: false,
        stream_idle_timeout: None,
        fault: None,
        cors: false,
        tracing: None,
        http2_max_concurrent_streams: None,
        client_cert: Default::default(),
    })
}

/// The connection manager of a compiled one-chain listener whose `HttpConnectionManager` has
/// `fields` (one YAML line) besides an inline route table.
pub fn compiled_hcm(fields: &str) -> Arc<HttpConnectionManager> {
    compile_hcm(fields).unwrap()
}

/// Compiles the listener of [`compiled_hcm`]: its connection manager, or the refusal.
pub fn compile_hcm(
    fields: &str,
) -> Result<Arc<HttpConnectionManager>, crate::config_error::ConfigError> {
    let listener: envoy_types::pb::envoy::config::listener::v3::Listener = from_yaml(&format!(
        r#"
name: l
address: {{ socket_address: {{ address: 127.0.0.1, port_value: 9080 }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          {fields}
          route_config: {{ name: r, virtual_hosts: [ {{ name: v, domains: ["*"], routes: [ {{ match: {{ prefix: / }}, route: {{ cluster: a }} }} ] }} ] }}
          http_filters: [ {{ name: envoy.filters.http.router }} ]
"#
    ))
    .unwrap();
    let config = crate::config::compile_listener(&listener)?;
    match &config.filter_chains[0].filter {
        crate::config::NetworkFilter::Http(hcm) => Ok(Arc::clone(hcm)),
        other => panic!("not HTTP: {other:?}"),
    }
}

/// A compiled route table from YAML.
pub fn table(routes: &str) -> Arc<RouteTable> {
    let config: RouteConfiguration = from_yaml(routes).unwrap();
    Arc::new(RouteTable::compile(&config).unwrap())
}

/// A route table sending everything to `cluster`.
pub fn to_cluster(cluster: &str) -> String {
    format!(
        "name: r\nvirtual_hosts: [ {{ name: v, domains: ['*'], routes: [ \
         {{ match: {{ prefix: / }}, route: {{ cluster: {cluster} }} }} ] }} ]"
    )
}

/// Adds an EDS-style cluster with `endpoints` (round robin) to `snapshot`.
pub fn add_cluster(
    snapshot: &mut Snapshot,
    name: &str,
    protocol: UpstreamProtocol,
    endpoints: &[SocketAddr],
) {
    snapshot.clusters.insert(
        name.to_owned(),
        Arc::new(ClusterConfig {
            name: name.to_owned(),
            discovery: Discovery::Eds {
                service_name: name.to_owned(),
            },
            algorithm: Algorithm::RoundRobin,
            connect_timeout: Duration::from_secs(2),
            protocol,
            service: Default::default(),
            breaker: Default::default(),
            outlier: None,
            panic_threshold: 0,
            connection: Default::default(),
            tls: None,
        }),
    );
    let lb_endpoints: Vec<String> = endpoints
        .iter()
        .map(|a| {
            format!(
                "{{ endpoint: {{ address: {{ socket_address: {{ address: '{}', port_value: {} }} }} }} }}",
                a.ip(),
                a.port()
            )
        })
        .collect();
    let cla: ClusterLoadAssignment = from_yaml(&format!(
        "cluster_name: {name}\nendpoints: [ {{ lb_endpoints: [ {} ] }} ]",
        lb_endpoints.join(", ")
    ))
    .unwrap();
    snapshot.endpoints.insert(
        name.to_owned(),
        Arc::new(EndpointSet::compile(&cla).unwrap()),
    );
}

/// A snapshot with one HTTP/1.1 cluster per `(name, endpoints)`.
pub fn snapshot(clusters: &[(&str, &[SocketAddr])]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for (name, endpoints) in clusters {
        add_cluster(&mut snapshot, name, UpstreamProtocol::Http1, endpoints);
    }
    snapshot
}

/// A snapshot with the one cluster `a`, speaking `protocol` to its one endpoint at `addr`.
pub fn one_cluster(addr: SocketAddr, protocol: UpstreamProtocol) -> Snapshot {
    let mut snapshot = Snapshot::default();
    add_cluster(&mut snapshot, "a", protocol, &[addr]);
    snapshot
}
