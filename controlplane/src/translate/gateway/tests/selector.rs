//! The DestinationRules of a gateway: chosen by its namespace and labels, a `workloadSelector`
//! included, for its clusters, its routes' hash policies and its TCP proxies.

use envoy_types::pb::envoy::{
    config::{
        cluster::v3::cluster::LbPolicy,
        listener::v3::{Listener, filter::ConfigType},
        route::v3::{route::Action, route_action::hash_policy::PolicySpecifier},
    },
    extensions::filters::network::tcp_proxy::v3::TcpProxy,
};
use pretty_assertions::assert_eq;
use prost::Message;

use super::*;

const SELECTED: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 27017, name: mongo, protocol: MONGO}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: mongodb, namespace: default}
spec:
  hosts: [mongodb.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 27017, name: mongo, protocol: MONGO}
  - {number: 8080, name: http, protocol: HTTP}
  endpoints:
  - {address: 198.18.0.40}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mongodb, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  http:
  - route:
    - destination: {host: mongodb.default.svc.cluster.local, port: {number: 8080}}
  tcp:
  - route:
    - destination: {host: mongodb.default.svc.cluster.local}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: everyone, namespace: istio-system, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  host: mongodb.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool:
      tcp: {connectTimeout: 7s, idleTimeout: 30s}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: edge-only, namespace: istio-system, creationTimestamp: "2024-01-02T00:00:00Z"}
spec:
  host: mongodb.default.svc.cluster.local
  workloadSelector:
    matchLabels: {app: edge}
  trafficPolicy:
    loadBalancer:
      consistentHash: {httpHeaderName: x-user}
    connectionPool:
      tcp: {connectTimeout: 2s, idleTimeout: 5s, maxConnectionDuration: 60s}
"#;

/// What the gateway got from its DestinationRule: each cluster's name, load balancer and
/// connect timeout (s), the header its HTTP route hashes on, and its TCP proxy's idle timeout
/// and maximum connection duration (s).
#[derive(Debug, PartialEq)]
struct Applied {
    clusters: Vec<(String, LbPolicy, i64)>,
    hash_header: Option<String>,
    tcp: (Option<i64>, Option<i64>),
}

fn applied(snapshot: &Snapshot, proxy: &Proxy) -> Applied {
    let (out, warnings) = translate(snapshot, proxy);
    assert_eq!(warnings, Vec::<String>::new());
    let clusters = out
        .clusters
        .iter()
        .map(|c| {
            let timeout = c.connect_timeout.unwrap();
            assert_eq!(timeout.nanos, 0);
            (c.name.clone(), c.lb_policy(), timeout.seconds)
        })
        .collect();
    let Some(Action::Route(action)) = &out.routes[0].virtual_hosts[0].routes[0].action else {
        panic!("{:?}", out.routes)
    };
    let hash_header = match action.hash_policy.as_slice() {
        [] => None,
        [one] => match &one.policy_specifier {
            Some(PolicySpecifier::Header(header)) => Some(header.header_name.clone()),
            other => panic!("{other:?}"),
        },
        many => panic!("{many:?}"),
    };
    let listener: &Listener = out
        .listeners
        .iter()
        .find(|l| l.name == "0.0.0.0_27017")
        .unwrap();
    let Some(ConfigType::TypedConfig(any)) = &listener.filter_chains[0].filters[0].config_type
    else {
        panic!("{listener:?}")
    };
    let tcp = TcpProxy::decode(any.value.as_slice()).unwrap();
    Applied {
        clusters,
        hash_header,
        tcp: (
            tcp.idle_timeout.map(|d| d.seconds),
            tcp.max_downstream_connection_duration.map(|d| d.seconds),
        ),
    }
}

fn cluster(port: u16) -> String {
    format!("outbound|{port}||mongodb.default.svc.cluster.local")
}

#[test]
fn a_rule_selecting_the_gateway_s_labels_applies_to_it() {
    let snapshot = snapshot(SELECTED);
    let mut proxy = ingress();
    proxy.labels = labels(&[("istio", "ingressgateway"), ("app", "edge")]);
    assert_eq!(
        applied(&snapshot, &proxy),
        Applied {
            clusters: vec![
                (cluster(27017), LbPolicy::RingHash, 2),
                (cluster(8080), LbPolicy::RingHash, 2),
            ],
            hash_header: Some("x-user".to_string()),
            tcp: (Some(5), Some(60)),
        }
    );
}

#[test]
fn a_rule_selecting_other_labels_leaves_the_gateway_to_the_others() {
    let snapshot = snapshot(SELECTED);
    let mut proxy = ingress();
    proxy.labels = labels(&[("istio", "ingressgateway"), ("app", "other")]);
    let expected = Applied {
        clusters: vec![
            (cluster(27017), LbPolicy::Random, 7),
            (cluster(8080), LbPolicy::Random, 7),
        ],
        hash_header: None,
        tcp: (Some(30), None),
    };
    assert_eq!(applied(&snapshot, &proxy), expected);
    // A gateway in another namespace with the labels: a selector stays in its namespace, while
    // `everyone` applies there as a rule of the root namespace.
    proxy.namespace = "edge".to_string();
    proxy.labels = labels(&[("istio", "ingressgateway"), ("app", "edge")]);
    assert_eq!(applied(&snapshot, &proxy), expected);
}
