use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use envoy_types::pb::envoy::config::{
    core::v3::{Address, SocketAddress, address, socket_address::PortSpecifier},
    endpoint::v3::{ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint},
};
use mesh_common::path::FieldPath;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

use super::*;
use crate::{
    access_log::AccessLog,
    balance::{Algorithm, EndpointSet},
    config::{ClusterConfig, Discovery, UpstreamProtocol},
    route::Clusters,
    stats::Stats,
};

fn assignment(cluster: &str, address: SocketAddr) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: cluster.into(),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints: vec![LbEndpoint {
                host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                    address: Some(Address {
                        address: Some(address::Address::SocketAddress(SocketAddress {
                            address: address.ip().to_string(),
                            port_specifier: Some(PortSpecifier::PortValue(u32::from(
                                address.port(),
                            ))),
                            ..Default::default()
                        })),
                    }),
                    ..Default::default()
                })),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn snapshot_with(cluster: &str, endpoint: Option<SocketAddr>) -> Snapshot {
    let config = Arc::new(ClusterConfig {
        name: cluster.to_owned(),
        discovery: Discovery::Eds {
            service_name: cluster.to_owned(),
        },
        algorithm: Algorithm::RoundRobin,
        connect_timeout: Duration::from_secs(1),
        protocol: UpstreamProtocol::Http1,
        service: Default::default(),
        breaker: Default::default(),
        outlier: None,
        panic_threshold: 0,
        connection: Default::default(),
        tls: None,
    });
    let endpoints = endpoint
        .map(|address| {
            let set = EndpointSet::compile(&assignment(cluster, address)).unwrap();
            (cluster.to_owned(), Arc::new(set))
        })
        .into_iter()
        .collect();
    Snapshot {
        clusters: HashMap::from([(cluster.to_owned(), config)]),
        endpoints,
        ..Snapshot::default()
    }
}

fn tcp_proxy(cluster: &str, idle_timeout: Option<Duration>) -> TcpProxy {
    TcpProxy {
        stat_prefix: cluster.to_owned(),
        clusters: Clusters::single(cluster, &FieldPath::root()).unwrap(),
        idle_timeout,
        access_log: true,
        max_duration: None,
        sni_cluster: false,
    }
}

fn downstream() -> TcpDownstream {
    TcpDownstream {
        peer: "127.0.0.1:40000".parse().unwrap(),
        local: "198.19.0.5:9080".parse().unwrap(),
        original_dst: Some("198.19.0.5:9080".parse().unwrap()),
        listener: "virtualOutbound".to_owned(),
        server_name: None,
    }
}

/// Telemetry whose log lines are kept in the returned channel.
fn telemetry() -> (Telemetry, tokio::sync::mpsc::Receiver<String>) {
    let (log, lines) = AccessLog::channel(16);
    (Telemetry::new(log, Arc::new(Stats::anonymous())), lines)
}

/// Telemetry nobody reads.
fn quiet() -> Telemetry {
    telemetry().0
}

/// An address on which nothing listens: bound once, then closed.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn half_close_lets_the_other_direction_finish() {
    let (mut client, mut proxy_down) = tokio::io::duplex(64);
    let (mut proxy_up, mut server) = tokio::io::duplex(64);
    let copy =
        tokio::spawn(
            async move { copy_both_ways(&mut proxy_down, &mut proxy_up, None, None).await },
        );
    client.write_all(b"ping").await.unwrap();
    client.shutdown().await.unwrap();
    let mut request = Vec::new();
    server.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"ping");
    // The upstream answers after it saw the client's end of stream.
    server.write_all(b"pong!").await.unwrap();
    server.shutdown().await.unwrap();
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.unwrap();
    assert_eq!(response, b"pong!");
    assert_eq!(
        copy.await.unwrap(),
        Copied {
            received: 4,
            sent: 5,
            end: CopyEnd::Closed,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_is_pushed_back_by_traffic() {
    let (mut client, mut proxy_down) = tokio::io::duplex(64);
    let (mut proxy_up, mut server) = tokio::io::duplex(64);
    let start = Instant::now();
    let copy = tokio::spawn(async move {
        let copied = copy_both_ways(
            &mut proxy_down,
            &mut proxy_up,
            Some(Duration::from_secs(10)),
            None,
        )
        .await;
        (copied, start.elapsed())
    });
    tokio::time::sleep(Duration::from_secs(6)).await;
    client.write_all(b"x").await.unwrap();
    let mut byte = [0; 1];
    server.read_exact(&mut byte).await.unwrap();
    let (copied, elapsed) = copy.await.unwrap();
    assert_eq!(
        copied,
        Copied {
            received: 1,
            sent: 0,
            end: CopyEnd::IdleTimeout,
        }
    );
    // Ten seconds after the last byte, not after the start.
    assert_eq!(elapsed, Duration::from_secs(16));
}

#[tokio::test]
async fn proxies_to_the_clusters_endpoint_and_counts_bytes() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut stream, _) = upstream.accept().await.unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await.unwrap();
        stream.write_all(b"reply:").await.unwrap();
        stream.write_all(&request).await.unwrap();
        request
    });
    let snapshot = snapshot_with("echo", Some(upstream_addr));
    let (mut client, proxy_down) = tokio::io::duplex(64);
    let config = tcp_proxy("echo", None);
    let proxied = tokio::spawn(async move {
        proxy(proxy_down, &config, &snapshot, &downstream(), &quiet()).await
    });
    client.write_all(b"hello").await.unwrap();
    client.shutdown().await.unwrap();
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.unwrap();
    assert_eq!(response, b"reply:hello");
    assert_eq!(server.await.unwrap(), b"hello");
    let log = proxied.await.unwrap();
    assert_eq!(log.bytes_received, 5);
    assert_eq!(log.bytes_sent, 11);
    assert_eq!(log.upstream_host, Some(upstream_addr));
    assert_eq!(log.cluster, "echo");
    assert_eq!(log.response_flags.to_string(), "-");
    assert_eq!(log.end, Some(CopyEnd::Closed));
    assert_eq!(log.listener, "virtualOutbound");
}

#[tokio::test]
async fn a_refused_connect_is_flagged_uf_and_closes_the_downstream() {
    let dead = closed_port().await;
    let snapshot = snapshot_with("echo", Some(dead));
    let (mut client, proxy_down) = tokio::io::duplex(64);
    let log = proxy(
        proxy_down,
        &tcp_proxy("echo", None),
        &snapshot,
        &downstream(),
        &quiet(),
    )
    .await;
    assert_eq!(log.response_flags.to_string(), "UF");
    assert_eq!(log.upstream_host, Some(dead));
    assert_eq!(log.end, None);
    assert_eq!((log.bytes_received, log.bytes_sent), (0, 0));
    // The proxy's end was dropped with the log: the client sees end of stream.
    let mut rest = Vec::new();
    assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
}

#[tokio::test]
async fn refused_connects_count_towards_outlier_ejection() {
    let dead = closed_port().await;
    let mut snapshot = snapshot_with("echo", Some(dead));
    let mut cluster = snapshot.clusters["echo"].as_ref().clone();
    cluster.outlier = Some(Arc::new(crate::balance::OutlierDetector::new(
        crate::balance::OutlierConfig {
            consecutive_5xx: 2,
            max_ejection_percent: 100,
            ..Default::default()
        },
    )));
    snapshot.clusters.insert("echo".into(), Arc::new(cluster));
    let mut flags = Vec::new();
    for _ in 0..3 {
        let (_client, proxy_down) = tokio::io::duplex(64);
        let log = proxy(
            proxy_down,
            &tcp_proxy("echo", None),
            &snapshot,
            &downstream(),
            &quiet(),
        )
        .await;
        flags.push(log.response_flags.to_string());
    }
    // The second failure ejects the only endpoint: the third connection finds none.
    assert_eq!(flags, ["UF", "UF", "UH"]);
}

#[tokio::test]
async fn unknown_and_warming_clusters_are_flagged_nc_and_uh() {
    let snapshot = snapshot_with("warming", None);
    let (_client, proxy_down) = tokio::io::duplex(64);
    let log = proxy(
        proxy_down,
        &tcp_proxy("missing", None),
        &snapshot,
        &downstream(),
        &quiet(),
    )
    .await;
    assert_eq!(log.response_flags.to_string(), "NC");
    assert_eq!(log.upstream_host, None);
    let (_client, proxy_down) = tokio::io::duplex(64);
    let log = proxy(
        proxy_down,
        &tcp_proxy("warming", None),
        &snapshot,
        &downstream(),
        &quiet(),
    )
    .await;
    assert_eq!(log.response_flags.to_string(), "UH");
    assert_eq!(log.cluster, "warming");
}

#[tokio::test]
async fn a_connection_is_one_log_line_and_its_metrics() {
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_addr = upstream.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = upstream.accept().await.unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await.unwrap();
        stream.write_all(b"pong!!").await.unwrap();
    });
    let snapshot = snapshot_with("echo", Some(upstream_addr));
    let (telemetry, mut lines) = telemetry();
    let (mut client, proxy_down) = tokio::io::duplex(64);
    let config = tcp_proxy("echo", None);
    let proxied = {
        let telemetry = telemetry.clone();
        tokio::spawn(async move {
            proxy(proxy_down, &config, &snapshot, &downstream(), &telemetry).await
        })
    };
    client.write_all(b"ping").await.unwrap();
    client.shutdown().await.unwrap();
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.unwrap();
    let log = proxied.await.unwrap();

    let line: serde_json::Value = serde_json::from_str(&lines.recv().await.unwrap()).unwrap();
    let expected = serde_json::json!({
        "start_time": crate::access_log::rfc3339(log.start_time),
        "method": null,
        "path": null,
        "protocol": null,
        "response_code": null,
        "response_flags": "-",
        "bytes_received": 4,
        "bytes_sent": 6,
        "duration": crate::stats::observe::millis(log.duration),
        "upstream_host": upstream_addr.to_string(),
        "upstream_cluster": "echo",
        "x_request_id": null,
        "traceparent": null,
        "authority": null,
        "user_agent": null,
        "route_name": null,
        "downstream_remote_address": "127.0.0.1:40000",
        "downstream_local_address": "198.19.0.5:9080",
    });
    assert_eq!(line, expected);

    let rendered = telemetry.stats.render();
    let labels = "reporter=\"source\",source_workload=\"unknown\",\
        source_workload_namespace=\"unknown\",source_principal=\"unknown\",\
        source_app=\"unknown\",source_version=\"unknown\",\
        source_canonical_service=\"unknown\",source_canonical_revision=\"unknown\",\
        source_cluster=\"unknown\",destination_workload=\"unknown\",\
        destination_workload_namespace=\"unknown\",destination_principal=\"unknown\",\
        destination_app=\"unknown\",destination_version=\"unknown\",\
        destination_canonical_service=\"unknown\",destination_canonical_revision=\"unknown\",\
        destination_cluster=\"unknown\",destination_service=\"unknown\",\
        destination_service_name=\"unknown\",destination_service_namespace=\"unknown\",\
        request_protocol=\"tcp\",response_flags=\"-\",connection_security_policy=\"unknown\"";
    for (name, value) in [
        ("istio_tcp_connections_opened_total", 1),
        ("istio_tcp_connections_closed_total", 1),
        ("istio_tcp_received_bytes_total", 4),
        ("istio_tcp_sent_bytes_total", 6),
    ] {
        let line = format!("{name}{{{labels}}} {value}");
        assert!(
            rendered.lines().any(|l| l == line),
            "{line}\nnot in\n{rendered}"
        );
    }
}

mod keepalive;
mod limits;
mod sni;
