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
            "clusters": [cluster(hop, cluster_name)],
        },
    })
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
                "virtual_hosts": [{
                    "name": "bench",
                    "domains": ["*"],
                    "routes": [{
                        "match": { "prefix": "/" },
                        "route": { "cluster": cluster_name },
                    }],
                }],
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
    if hop.protocol == Protocol::H2c {
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
        }
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
