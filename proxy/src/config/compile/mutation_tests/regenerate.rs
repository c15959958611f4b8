//! Writing the seeds: the resources the control plane sends for bookinfo, taken from its
//! golden files, and Istio's fault injection, which no golden file has yet.

use std::path::Path;

use envoy_types::pb::envoy::config::{listener::v3::Listener, route::v3::RouteConfiguration};
use mesh_xds::{json::from_yaml, resource::ResourceType};
use prost::Message;

use crate::fuzzing::XDS_TYPES;

/// The fault filter in a connection manager, aborting a tenth of the requests.
const FAULT_LISTENER: &str = r#"
name: 0.0.0.0_9080
address: { socket_address: { address: 0.0.0.0, port_value: 9080 } }
bind_to_port: false
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: outbound_0.0.0.0_9080
          rds: { route_config_name: "9080", config_source: { ads: {} } }
          http_filters:
            - name: envoy.filters.http.fault
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
                abort: { http_status: 503, percentage: { numerator: 10, denominator: HUNDRED } }
            - name: envoy.filters.http.router
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#;

/// A route with its own fault config: Istio's `VirtualService` `fault`.
const FAULT_ROUTE: &str = r#"
name: "9080"
virtual_hosts:
  - name: ratings.default.svc.cluster.local:9080
    domains: ["ratings.default.svc.cluster.local", "ratings", "ratings:9080"]
    routes:
      - match: { prefix: / }
        route: { cluster: "outbound|9080||ratings.default.svc.cluster.local", timeout: 0s }
        typed_per_filter_config:
          envoy.filters.http.fault:
            "@type": type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault
            delay:
              fixed_delay: 7s
              percentage: { numerator: 100000, denominator: MILLION }
            abort:
              http_status: 500
              percentage: { numerator: 5, denominator: TEN_THOUSAND }
"#;

/// Encodes the seeds from the control plane's golden files: run with `--ignored` when the
/// translation changes what it sends, and commit the files.
#[test]
#[ignore = "writes proxy/fuzz/seeds/xds_resource; run by hand"]
fn regenerate_seeds() {
    use envoy_types::pb::envoy::config::{
        cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment,
    };
    use mesh_xds::json::from_json;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let golden = root.join("../controlplane/tests/golden");
    let out = root.join("fuzz/seeds/xds_resource");
    let find = |scenario: &str, file: &str, name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(golden.join(scenario).join(file)).unwrap();
        let all: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
        all.into_iter()
            .find(|r| r["name"] == name || r["cluster_name"] == name)
            .unwrap_or_else(|| panic!("{scenario}/{file} has no {name}"))
    };
    let write = |file: &str, kind: ResourceType, bytes: Vec<u8>| {
        let selector = XDS_TYPES.iter().position(|k| *k == kind).unwrap();
        let mut seed = vec![u8::try_from(selector).unwrap()];
        seed.extend(bytes);
        std::fs::write(out.join(file), seed).unwrap();
    };
    let reviews = "outbound|9080||reviews.default.svc.cluster.local";
    let reviews_v1 = "outbound|9080|v1|reviews.default.svc.cluster.local";
    for (file, scenario, name) in [
        ("listener-virtual-inbound.bin", "default", "virtualInbound"),
        (
            "listener-virtual-outbound.bin",
            "default",
            "virtualOutbound",
        ),
        ("listener-http-9080.bin", "default", "0.0.0.0_9080"),
        ("listener-tcp-tls-443.bin", "tcp-tls-routes", "0.0.0.0_443"),
        (
            "listener-gateway-8080.bin",
            "gateway-bookinfo",
            "0.0.0.0_8080",
        ),
    ] {
        let listener: Listener = from_json(&find(scenario, "listeners.json", name)).unwrap();
        write(file, ResourceType::Listener, listener.encode_to_vec());
    }
    for scenario in [
        "http-actions",
        "header-match",
        "retries-timeouts",
        "subsets-and-weights",
    ] {
        let route: RouteConfiguration = from_json(&find(scenario, "routes.json", "9080")).unwrap();
        let file = format!("route-{scenario}.bin");
        write(
            &file,
            ResourceType::RouteConfiguration,
            route.encode_to_vec(),
        );
    }
    for (file, scenario, name) in [
        (
            "cluster-eds-reviews-v1.bin",
            "subsets-and-weights",
            reviews_v1,
        ),
        ("cluster-passthrough.bin", "default", "PassthroughCluster"),
        ("cluster-inbound-9080.bin", "default", "inbound|9080||"),
        (
            "cluster-dns-payments.bin",
            "tcp-tls-routes",
            "outbound|443||payments.example.com",
        ),
    ] {
        let cluster: Cluster = from_json(&find(scenario, "clusters.json", name)).unwrap();
        write(file, ResourceType::Cluster, cluster.encode_to_vec());
    }
    // Istio's fault injection, which no golden file has yet: the filter in the connection
    // manager, and a route's own config for it.
    let listener: Listener = from_yaml(FAULT_LISTENER).unwrap();
    write(
        "listener-fault.bin",
        ResourceType::Listener,
        listener.encode_to_vec(),
    );
    let route: RouteConfiguration = from_yaml(FAULT_ROUTE).unwrap();
    write(
        "route-fault.bin",
        ResourceType::RouteConfiguration,
        route.encode_to_vec(),
    );
    for (file, scenario, name) in [
        ("endpoints-reviews.bin", "default", reviews),
        (
            "endpoints-reviews-v1.bin",
            "subsets-and-weights",
            reviews_v1,
        ),
    ] {
        let cla: ClusterLoadAssignment =
            from_json(&find(scenario, "endpoints.json", name)).unwrap();
        write(
            file,
            ResourceType::ClusterLoadAssignment,
            cla.encode_to_vec(),
        );
    }
}
