use std::{collections::HashMap, sync::Arc, time::Duration};

use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use mesh_common::path::FieldPath;

use super::*;
use crate::{
    config::{FilterChain, FilterChainMatch, HttpConnectionManager, RouteSource, TcpProxy},
    route::{Clusters, RouteTable},
};

fn tcp(cluster: &str, matcher: FilterChainMatch) -> FilterChain {
    FilterChain {
        name: format!("tcp-{cluster}"),
        matcher,
        filter: NetworkFilter::Tcp(Arc::new(TcpProxy {
            stat_prefix: cluster.to_owned(),
            clusters: Clusters::single(cluster, &FieldPath::root()).unwrap(),
            idle_timeout: None,
            access_log: false,
            max_duration: None,
            sni_cluster: false,
        })),
        tls: None,
    }
}

fn http(routes: RouteSource, matcher: FilterChainMatch) -> FilterChain {
    FilterChain {
        name: "http".to_owned(),
        matcher,
        filter: NetworkFilter::Http(Arc::new(HttpConnectionManager {
            stat_prefix: "http".to_owned(),
            codec: Default::default(),
            routes,
            access_log: false,
            generate_request_id: true,
            use_remote_address: false,
            stream_idle_timeout: None,
            fault: None,
            cors: false,
            tracing: None,
            http2_max_concurrent_streams: None,
            client_cert: Default::default(),
        })),
        tls: None,
    }
}

fn listener(
    name: &str,
    address: &str,
    bind_to_port: bool,
    chains: Vec<FilterChain>,
) -> Arc<ListenerConfig> {
    Arc::new(ListenerConfig {
        name: name.to_owned(),
        address: address.parse().unwrap(),
        use_original_dst: false,
        original_dst_filter: false,
        bind_to_port,
        filter_chains: chains,
        default_filter_chain: None,
        inspect_protocols: false,
        detection_timeout: Duration::from_secs(1),
        traffic_direction: Default::default(),
    })
}

fn snapshot(listeners: Vec<Arc<ListenerConfig>>) -> Snapshot {
    Snapshot {
        listeners: listeners
            .into_iter()
            .map(|listener| (listener.name.clone(), listener))
            .collect::<HashMap<_, _>>(),
        ..Snapshot::default()
    }
}

fn handed_to(snapshot: &Snapshot, destination: &str) -> Option<String> {
    handoff_listener(snapshot, destination.parse().unwrap()).map(|l| l.name.clone())
}

fn rds_name(manager: Option<Arc<HttpConnectionManager>>) -> Option<String> {
    match manager?.routes.clone() {
        RouteSource::Rds(name) => Some(name),
        RouteSource::Inline(table) => Some(format!("inline {}", table.name())),
    }
}

#[test]
fn hand_off_prefers_the_exact_address_then_the_ports_wildcard() {
    let any = FilterChainMatch::default;
    let snap = snapshot(vec![
        listener(
            "10.0.0.5_9080",
            "10.0.0.5:9080",
            false,
            vec![tcp("a", any())],
        ),
        listener("0.0.0.0_9080", "0.0.0.0:9080", false, vec![tcp("b", any())]),
        listener("[::]_9080", "[::]:9080", false, vec![tcp("c", any())]),
        // Binding listeners never take a hand-off, whatever their address.
        listener(
            "10.0.0.6_9080",
            "10.0.0.6:9080",
            true,
            vec![tcp("d", any())],
        ),
        listener(
            "10.0.0.7_9080",
            "10.0.0.7:9080",
            false,
            vec![tcp("e", any())],
        ),
    ]);
    assert_eq!(
        handed_to(&snap, "10.0.0.5:9080").as_deref(),
        Some("10.0.0.5_9080")
    );
    assert_eq!(
        handed_to(&snap, "10.0.0.6:9080").as_deref(),
        Some("0.0.0.0_9080")
    );
    assert_eq!(
        handed_to(&snap, "[fd00::1]:9080").as_deref(),
        Some("[::]_9080")
    );
    assert_eq!(
        handed_to(&snap, "[::ffff:10.0.0.7]:9080").as_deref(),
        Some("10.0.0.7_9080")
    );
    assert_eq!(handed_to(&snap, "10.0.0.5:9081"), None);
}

#[test]
fn the_capture_listener_is_the_one_on_the_outbound_port() {
    let mut inbound = listener("virtualInbound", "0.0.0.0:15006", true, Vec::new());
    Arc::make_mut(&mut inbound).use_original_dst = true;
    let mut outbound = listener("virtualOutbound", "0.0.0.0:15001", true, Vec::new());
    Arc::make_mut(&mut outbound).use_original_dst = true;
    let plain = listener("a_plain_one", "0.0.0.0:8080", true, Vec::new());
    let snap = snapshot(vec![inbound.clone(), outbound, plain.clone()]);
    assert_eq!(
        capture_listener(&snap).map(|l| l.name.as_str()),
        Some("virtualOutbound")
    );
    let snap = snapshot(vec![inbound, plain.clone()]);
    assert_eq!(
        capture_listener(&snap).map(|l| l.name.as_str()),
        Some("virtualInbound")
    );
    assert!(capture_listener(&snapshot(vec![plain])).is_none());
}

#[test]
fn explicit_routes_come_from_the_http_chain_of_the_ports_listener() {
    let sniffed = FilterChainMatch {
        application_protocols: vec!["http/1.1".to_owned(), "h2c".to_owned()],
        ..FilterChainMatch::default()
    };
    let table = RouteTable::compile(&RouteConfiguration {
        name: "9090".to_owned(),
        ..RouteConfiguration::default()
    })
    .unwrap();
    let snap = snapshot(vec![
        listener(
            "0.0.0.0_8080",
            "0.0.0.0:8080",
            false,
            vec![
                tcp("opaque", FilterChainMatch::default()),
                http(RouteSource::Rds("8080".to_owned()), sniffed),
            ],
        ),
        listener(
            "10.0.0.5_9090",
            "10.0.0.5:9090",
            false,
            vec![http(
                RouteSource::Inline(Arc::new(table)),
                FilterChainMatch::default(),
            )],
        ),
        listener(
            "0.0.0.0_3306",
            "0.0.0.0:3306",
            false,
            vec![tcp("mysql", FilterChainMatch::default())],
        ),
        listener(
            "0.0.0.0_7070",
            "0.0.0.0:7070",
            true,
            vec![http(
                RouteSource::Rds("7070".to_owned()),
                FilterChainMatch::default(),
            )],
        ),
    ]);
    assert_eq!(
        rds_name(explicit_http_manager(&snap, 8080)).as_deref(),
        Some("8080")
    );
    assert_eq!(
        rds_name(explicit_http_manager(&snap, 9090)).as_deref(),
        Some("inline 9090")
    );
    assert_eq!(rds_name(explicit_http_manager(&snap, 3306)), None);
    assert_eq!(rds_name(explicit_http_manager(&snap, 7070)), None);
    assert_eq!(rds_name(explicit_http_manager(&snap, 80)), None);
}
