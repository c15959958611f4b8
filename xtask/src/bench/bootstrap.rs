//! The bootstrap file of one proxy hop: Envoy's own v3 `Bootstrap`, so the very same file runs
//! Envoy and mesh-proxy.
//!
//! A hop is one listener forwarding everything to one static cluster (the next hop or the
//! upstream), with an admin listener to poll for readiness. No access log, stats sink or
//! tracing: both proxies do the same minimum per request.

use std::net::SocketAddr;

use serde_json::{Value, json};

use super::load::client::Protocol;

/// One proxy of a topology.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    /// A name for the node, the listener and the logs: `client-side` or `server-side`.
    pub name: String,
    /// Where the proxy listens for traffic.
    pub listen: SocketAddr,
    /// Where its admin interface listens.
    pub admin: SocketAddr,
    /// Where it forwards to.
    pub next: SocketAddr,
    /// What the traffic is.
    pub protocol: Protocol,
    /// Services configured besides the route every request takes: a cluster and a virtual
    /// host each, as a sidecar of a mesh that size holds (HTTP hops only).
    pub services: usize,
}

const HCM: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const ROUTER: &str = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";
const TCP_PROXY: &str =
    "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const HTTP_OPTIONS: &str =
    "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// The bootstrap of `hop`, as JSON.
pub fn bootstrap(hop: &Hop) -> Value {
    let cluster_name = "next_hop";
    json!({
        "node": { "id": format!("bench~{}", hop.name), "cluster": "bench" },
        "admin": { "address": socket_address(hop.admin) },
        "static_resources": {
            "listeners": [{
                "name": hop.name,
                "address": socket_address(hop.listen),
                "filter_chains": [{ "filters": [network_filter(hop, cluster_name)] }],
            }],
            "clusters": clusters(hop, cluster_name),
        },
    })
}

/// The next hop's cluster, then one per configured service, each holding the next hop too.
fn clusters(hop: &Hop, cluster_name: &str) -> Vec<Value> {
    std::iter::once(cluster(hop, cluster_name))
        .chain((0..services(hop)).map(|i| cluster(hop, &service_cluster(i))))
        .collect()
}

fn services(hop: &Hop) -> usize {
    if hop.protocol == Protocol::Tcp {
        0
    } else {
        hop.services
    }
}

/// Istio's name for the cluster of a service's port.
fn service_cluster(i: usize) -> String {
    format!("outbound|80||{}", service_host(i))
}

fn service_host(i: usize) -> String {
    format!("svc-{i}.bench.svc.cluster.local")
}

/// One virtual host per configured service, as Istio names and matches them, then the
/// catch-all that every benchmark request takes.
fn virtual_hosts(hop: &Hop, cluster_name: &str) -> Vec<Value> {
    (0..services(hop))
        .map(|i| {
            let host = service_host(i);
            json!({
                "name": format!("{host}:80"),
                "domains": [host.clone(), format!("{host}:80"), format!("svc-{i}.bench")],
                "routes": [{
                    "match": { "prefix": "/" },
                    "route": { "cluster": service_cluster(i) },
                }],
            })
        })
        .chain(std::iter::once(json!({
            "name": "bench",
            "domains": ["*"],
            "routes": [{
                "match": { "prefix": "/" },
                "route": { "cluster": cluster_name },
            }],
        })))
        .collect()
}

fn network_filter(hop: &Hop, cluster_name: &str) -> Value {
    if hop.protocol == Protocol::Tcp {
        return json!({
            "name": "envoy.filters.network.tcp_proxy",
            "typed_config": {
                "@type": TCP_PROXY,
                "stat_prefix": hop.name,
                "cluster": cluster_name,
            },
        });
    }
    json!({
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": HCM,
            "stat_prefix": hop.name,
            // AUTO tells HTTP/1.1 from HTTP/2 by the connection preface.
            "codec_type": "AUTO",
            "route_config": {
                "name": "bench",
                "virtual_hosts": virtual_hosts(hop, cluster_name),
            },
            "http_filters": [{
                "name": "envoy.filters.http.router",
                "typed_config": { "@type": ROUTER },
            }],
        },
    })
}

fn cluster(hop: &Hop, cluster_name: &str) -> Value {
    let mut cluster = json!({
        "name": cluster_name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": cluster_name,
            "endpoints": [{
                "lb_endpoints": [{ "endpoint": { "address": socket_address(hop.next) } }],
            }],
        },
    });
    if matches!(hop.protocol, Protocol::H2c | Protocol::Grpc) {
        // Upstream connections speak what the client spoke: HTTP/2 end to end.
        cluster["typed_extension_protocol_options"] = json!({
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": HTTP_OPTIONS,
                "explicit_http_config": { "http2_protocol_options": {} },
            },
        });
    }
    cluster
}

fn socket_address(addr: SocketAddr) -> Value {
    json!({
        "socket_address": { "address": addr.ip().to_string(), "port_value": addr.port() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(protocol: Protocol) -> Hop {
        Hop {
            name: "client-side".to_owned(),
            listen: "127.0.0.1:4001".parse().unwrap(),
            admin: "127.0.0.1:4002".parse().unwrap(),
            next: "127.0.0.1:4003".parse().unwrap(),
            protocol,
            services: 0,
        }
    }

    #[test]
    fn configured_services_add_a_cluster_and_a_virtual_host_each() {
        let value = bootstrap(&Hop {
            services: 3,
            ..hop(Protocol::Http1)
        });
        let clusters = value["static_resources"]["clusters"].as_array().unwrap();
        let names: Vec<&str> = clusters
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "next_hop",
                "outbound|80||svc-0.bench.svc.cluster.local",
                "outbound|80||svc-1.bench.svc.cluster.local",
                "outbound|80||svc-2.bench.svc.cluster.local",
            ]
        );
        let hcm = &value["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"];
        let hosts = hcm["route_config"]["virtual_hosts"].as_array().unwrap();
        assert_eq!(hosts.len(), 4);
        assert_eq!(
            hosts[2],
            json!({
                "name": "svc-2.bench.svc.cluster.local:80",
                "domains": ["svc-2.bench.svc.cluster.local", "svc-2.bench.svc.cluster.local:80",
                            "svc-2.bench"],
                "routes": [{
                    "match": { "prefix": "/" },
                    "route": { "cluster": "outbound|80||svc-2.bench.svc.cluster.local" },
                }],
            })
        );
        assert_eq!(hosts[3]["domains"], json!(["*"]));
        // A TCP hop has no routes to add them to.
        let tcp = bootstrap(&Hop {
            services: 3,
            ..hop(Protocol::Tcp)
        });
        assert_eq!(
            tcp["static_resources"]["clusters"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn an_http_hop_routes_everything_to_the_next_hop() {
        let value = bootstrap(&hop(Protocol::Http1));
        assert_eq!(
            value["admin"]["address"]["socket_address"]["port_value"],
            4002
        );
        let listener = &value["static_resources"]["listeners"][0];
        assert_eq!(listener["address"]["socket_address"]["port_value"], 4001);
        let hcm = &listener["filter_chains"][0]["filters"][0]["typed_config"];
        assert_eq!(hcm["@type"], HCM);
        assert_eq!(
            hcm["route_config"]["virtual_hosts"][0]["routes"][0],
            json!({ "match": { "prefix": "/" }, "route": { "cluster": "next_hop" } })
        );
        let cluster = &value["static_resources"]["clusters"][0];
        assert_eq!(
            cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"],
            json!({ "socket_address": { "address": "127.0.0.1", "port_value": 4003 } })
        );
        assert_eq!(cluster.get("typed_extension_protocol_options"), None);
    }

    #[test]
    fn h2c_speaks_http2_upstream_and_tcp_uses_tcp_proxy() {
        let h2 = bootstrap(&hop(Protocol::H2c));
        let options = &h2["static_resources"]["clusters"][0]["typed_extension_protocol_options"];
        assert_eq!(
            options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]["explicit_http_config"],
            json!({ "http2_protocol_options": {} })
        );
        let tcp = bootstrap(&hop(Protocol::Tcp));
        assert_eq!(
            tcp["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0],
            json!({
                "name": "envoy.filters.network.tcp_proxy",
                "typed_config": {
                    "@type": TCP_PROXY,
                    "stat_prefix": "client-side",
                    "cluster": "next_hop",
                },
            })
        );
    }
}
