//! `AUTO_PASSTHROUGH` servers: a chain that forwards by SNI (`sni_cluster`, then a TCP proxy to
//! `BlackHoleCluster`) and the SNI-DNAT clusters it forwards to.

use envoy_types::pb::envoy::config::core::v3::{address, socket_address::PortSpecifier};
use envoy_types::pb::envoy::{
    config::{
        cluster::v3::{Cluster, cluster::LbPolicy},
        endpoint::v3::{ClusterLoadAssignment, lb_endpoint::HostIdentifier},
        listener::v3::{FilterChain, filter::ConfigType},
    },
    extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy::ClusterSpecifier},
};
use pretty_assertions::assert_eq;
use prost::Message;

use super::{
    tls::{filter_names, sni},
    *,
};

const REVIEWS: &str = "reviews.default.svc.cluster.local";

/// reviews (two versions) in the mesh, an external API, and the DestinationRule of reviews
/// with subsets, a load balancer and TLS origination.
const SERVICES: &str = r#"
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints:
  - {address: 198.18.0.31, labels: {version: v1}}
  - {address: 198.18.0.32, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: tls, protocol: TLS}]
  endpoints: [{address: 198.18.0.40}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    tls: {mode: SIMPLE, caCertificates: /certs/ca.pem}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;

/// An east-west Gateway with one `AUTO_PASSTHROUGH` server for `hosts`.
fn east_west(hosts: &str) -> String {
    format!(
        r#"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: cross-network, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: 15443, name: tls, protocol: TLS}}
    hosts: {hosts}
    tls: {{mode: AUTO_PASSTHROUGH}}
"#
    )
}

fn names(clusters: &[Cluster]) -> Vec<&str> {
    clusters.iter().map(|c| c.name.as_str()).collect()
}

fn tcp_proxy(chain: &FilterChain) -> TcpProxy {
    let filter = chain
        .filters
        .iter()
        .find(|f| f.name == "envoy.filters.network.tcp_proxy")
        .unwrap();
    let Some(ConfigType::TypedConfig(any)) = &filter.config_type else {
        panic!("no typed config");
    };
    TcpProxy::decode(any.value.as_slice()).unwrap()
}

/// The `address:port` of each endpoint of an assignment.
fn addresses(assignment: &ClusterLoadAssignment) -> Vec<String> {
    let mut out = Vec::new();
    for locality in &assignment.endpoints {
        for endpoint in &locality.lb_endpoints {
            let Some(HostIdentifier::Endpoint(endpoint)) = &endpoint.host_identifier else {
                panic!("no endpoint");
            };
            let Some(address::Address::SocketAddress(socket)) =
                endpoint.address.as_ref().and_then(|a| a.address.clone())
            else {
                panic!("no socket address");
            };
            let Some(PortSpecifier::PortValue(port)) = socket.port_specifier else {
                panic!("no port");
            };
            out.push(format!("{}:{port}", socket.address));
        }
    }
    out
}

#[test]
fn an_auto_passthrough_server_forwards_by_sni_to_the_sni_dnat_clusters() {
    let snapshot = snapshot(&format!("{SERVICES}{}", east_west(r#"["*.local"]"#)));
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(resources.routes.len(), 0);
    let [listener] = resources.listeners.as_slice() else {
        panic!("one listener: {:?}", resources.listeners);
    };
    assert_eq!(listener.name, "0.0.0.0_15443");
    let listener_filters: Vec<&str> = listener
        .listener_filters
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(listener_filters, ["envoy.filters.listener.tls_inspector"]);
    assert_eq!(sni(listener), vec![vec!["*.local".to_string()]]);
    let chain = &listener.filter_chains[0];
    assert_eq!(
        filter_names(chain),
        [
            "envoy.filters.network.sni_cluster",
            "envoy.filters.network.tcp_proxy"
        ]
    );
    let Some(ConfigType::TypedConfig(sni_cluster)) = &chain.filters[0].config_type else {
        panic!("sni_cluster has no typed config");
    };
    assert_eq!(
        sni_cluster.type_url,
        "type.googleapis.com/envoy.extensions.filters.network.sni_cluster.v3.SniCluster"
    );
    assert_eq!(sni_cluster.value, Vec::<u8>::new());
    let proxy = tcp_proxy(chain);
    assert_eq!(proxy.stat_prefix, "BlackHoleCluster");
    assert_eq!(
        proxy.cluster_specifier,
        Some(ClusterSpecifier::Cluster("BlackHoleCluster".to_string()))
    );
    assert_eq!(proxy.idle_timeout.map(|d| d.seconds), Some(3600));
    // The client's TLS passes through: the chain terminates none.
    assert_eq!(chain.transport_socket, None);

    // A cluster per port and subset of the mesh's services; the external API has none.
    assert_eq!(
        names(&resources.clusters),
        [
            "BlackHoleCluster",
            "outbound_.9080_._.reviews.default.svc.cluster.local",
            "outbound_.9080_.v1_.reviews.default.svc.cluster.local",
            "outbound_.9080_.v2_.reviews.default.svc.cluster.local",
        ]
    );
    for cluster in &resources.clusters[1..] {
        assert_eq!(
            cluster.eds_cluster_config.as_ref().unwrap().service_name,
            cluster.name
        );
        assert_eq!(
            cluster.lb_policy,
            LbPolicy::RoundRobin as i32,
            "{}",
            cluster.name
        );
        assert_eq!(cluster.transport_socket, None, "{}", cluster.name);
    }
    let endpoints: Vec<(&str, Vec<String>)> = resources
        .endpoints
        .iter()
        .map(|e| (e.cluster_name.as_str(), addresses(e)))
        .collect();
    assert_eq!(
        endpoints,
        [
            (
                "outbound_.9080_._.reviews.default.svc.cluster.local",
                vec![
                    "198.18.0.31:9080".to_string(),
                    "198.18.0.32:9080".to_string()
                ]
            ),
            (
                "outbound_.9080_.v1_.reviews.default.svc.cluster.local",
                vec!["198.18.0.31:9080".to_string()]
            ),
            (
                "outbound_.9080_.v2_.reviews.default.svc.cluster.local",
                vec!["198.18.0.32:9080".to_string()]
            ),
        ]
    );
}

#[test]
fn the_sni_dnat_clusters_are_the_outbound_ones_without_their_tls() {
    let snapshot = snapshot(&format!("{SERVICES}{}", east_west(r#"["*"]"#)));
    let (gateway, _) = translate(&snapshot, &ingress());
    let sidecar = Proxy {
        kind: ProxyKind::Sidecar,
        labels: labels(&[]),
        ..ingress()
    };
    let sidecar = crate::translate::sidecar(&snapshot, &sidecar);
    for subset in ["", "v1", "v2"] {
        let dnat = format!("outbound_.9080_.{subset}_.{REVIEWS}");
        let outbound = format!("outbound|9080|{subset}|{REVIEWS}");
        let find = |clusters: &[Cluster], name: &str| {
            let found = clusters.iter().find(|c| c.name == name);
            found
                .cloned()
                .unwrap_or_else(|| panic!("no cluster {name}"))
        };
        let mut dnat_cluster = find(&gateway.clusters, &dnat);
        let mut sidecar_cluster = find(&sidecar.clusters, &outbound);
        // The sidecar originates the rule's TLS; the gateway does not.
        assert!(
            sidecar_cluster.transport_socket.take().is_some(),
            "{outbound}"
        );
        dnat_cluster.name = outbound.clone();
        dnat_cluster
            .eds_cluster_config
            .as_mut()
            .unwrap()
            .service_name = outbound.clone();
        assert_eq!(dnat_cluster, sidecar_cluster);
        let dnat_endpoints = gateway.endpoints.iter().find(|e| e.cluster_name == dnat);
        let sidecar_endpoints = sidecar
            .endpoints
            .iter()
            .find(|e| e.cluster_name == outbound);
        assert_eq!(
            dnat_endpoints.map(|e| &e.endpoints),
            sidecar_endpoints.map(|e| &e.endpoints)
        );
    }
}

#[test]
fn hosts_are_sni_patterns_and_star_matches_every_name() {
    for (hosts, expected) in [
        (r#"["*"]"#, Vec::<String>::new()),
        (
            r#"["*.svc.cluster.local", "istio-system/*.local"]"#,
            vec!["*.local".to_string(), "*.svc.cluster.local".to_string()],
        ),
    ] {
        let snapshot = snapshot(&format!("{SERVICES}{}", east_west(hosts)));
        let (resources, warnings) = translate(&snapshot, &ingress());
        assert_eq!(warnings, Vec::<String>::new());
        assert_eq!(sni(&resources.listeners[0]), vec![expected], "{hosts}");
        // The clusters do not depend on the hosts.
        assert_eq!(resources.clusters.len(), 4, "{hosts}");
    }
}

#[test]
fn passthrough_and_auto_passthrough_servers_share_a_port() {
    let snapshot = snapshot(&format!(
        "{SERVICES}{}",
        r#"
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 15443, name: tls-api, protocol: TLS}
    hosts: [api.example.com]
    tls: {mode: PASSTHROUGH}
  - port: {number: 15443, name: tls-auto, protocol: TLS}
    hosts: ["*"]
    tls: {mode: AUTO_PASSTHROUGH}
  - port: {number: 15443, name: tls-again, protocol: TLS}
    hosts: ["*"]
    tls: {mode: AUTO_PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: istio-system}
spec:
  hosts: [api.example.com]
  gateways: [edge]
  tls:
  - match:
    - sniHosts: [api.example.com]
    route:
    - destination: {host: api.example.com, port: {number: 443}}
"#
    ));
    let (resources, warnings) = translate(&snapshot, &ingress());
    // Envoy refuses two chains of one name: the second server for every name is left out.
    assert_eq!(
        warnings,
        vec![
            "Gateway istio-system/edge server 2 (port 15443 TLS): host * is already served on \
             port 15443 by an earlier server"
                .to_string()
        ]
    );
    let [listener] = resources.listeners.as_slice() else {
        panic!("one listener: {:?}", resources.listeners);
    };
    assert_eq!(
        sni(listener),
        vec![vec!["api.example.com".to_string()], Vec::new()]
    );
    assert_eq!(
        filter_names(&listener.filter_chains[0]),
        ["envoy.filters.network.tcp_proxy"]
    );
    assert_eq!(
        tcp_proxy(&listener.filter_chains[0]).cluster_specifier,
        Some(ClusterSpecifier::Cluster(
            "outbound|443||api.example.com".to_string()
        ))
    );
    assert_eq!(
        filter_names(&listener.filter_chains[1]),
        [
            "envoy.filters.network.sni_cluster",
            "envoy.filters.network.tcp_proxy"
        ]
    );
    // The route's cluster, and the SNI-DNAT clusters of the mesh's services alone.
    assert_eq!(
        names(&resources.clusters),
        [
            "BlackHoleCluster",
            "outbound_.9080_._.reviews.default.svc.cluster.local",
            "outbound_.9080_.v1_.reviews.default.svc.cluster.local",
            "outbound_.9080_.v2_.reviews.default.svc.cluster.local",
            "outbound|443||api.example.com",
        ]
    );
}

#[test]
fn a_gateway_without_auto_passthrough_has_no_sni_dnat_clusters() {
    let passthrough = east_west(r#"["*"]"#).replace("AUTO_PASSTHROUGH", "PASSTHROUGH");
    let snapshot = snapshot(&format!("{SERVICES}{passthrough}"));
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(warnings, Vec::<String>::new());
    // No tls route: no chain, no listener, no cluster.
    assert_eq!(resources, Resources::default());
}
