//! The TCP proxy's limits: the cluster's `max_connections` and the connection's
//! `max_downstream_connection_duration`, and how the listener compiles them.

use envoy_types::pb::envoy::config::listener::v3::Listener;
use mesh_xds::json::from_yaml;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::{
    config::{MaxDuration, NetworkFilter, compile_listener},
    stats::Exporter,
    upstream::{CircuitBreaker, Thresholds},
};

const PATIENCE: Duration = Duration::from_secs(10);

/// An upstream that echoes every connection until the client closes its side.
async fn echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
                let _ = write.shutdown().await;
            });
        }
    });
    address
}

/// Writes `bytes` and reads them back.
async fn round_trip(client: &mut DuplexStream, bytes: &[u8]) {
    client.write_all(bytes).await.unwrap();
    let mut echoed = vec![0; bytes.len()];
    tokio::time::timeout(PATIENCE, client.read_exact(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, bytes);
}

fn has_line(rendered: &str, line: &str) {
    assert!(
        rendered.lines().any(|l| l == line),
        "{line}\nnot in\n{rendered}"
    );
}

#[tokio::test]
async fn max_connections_closes_the_connection_over_the_limit_with_uo() {
    let upstream = echo().await;
    let mut snapshot = snapshot_with("echo", Some(upstream));
    let mut cluster = snapshot.clusters["echo"].as_ref().clone();
    cluster.breaker = Arc::new(CircuitBreaker::new(Thresholds {
        max_connections: 1,
        ..Thresholds::default()
    }));
    snapshot.clusters.insert("echo".into(), Arc::new(cluster));
    let snapshot = Arc::new(snapshot);
    let (telemetry, mut lines) = telemetry();
    let exporter = Exporter::new(Arc::clone(&telemetry.stats));

    let (mut first, proxy_down) = tokio::io::duplex(64);
    let first_proxied = {
        let (snapshot, telemetry) = (Arc::clone(&snapshot), telemetry.clone());
        let config = tcp_proxy("echo", None);
        tokio::spawn(async move {
            proxy(proxy_down, &config, &snapshot, &downstream(), &telemetry).await
        })
    };
    round_trip(&mut first, b"one").await;

    // The second connection finds the only slot taken: closed at once, never connected.
    let (mut second, proxy_down) = tokio::io::duplex(64);
    let log = proxy(
        proxy_down,
        &tcp_proxy("echo", None),
        &snapshot,
        &downstream(),
        &telemetry,
    )
    .await;
    assert_eq!(log.response_flags.to_string(), "UO");
    assert_eq!((log.upstream_host, log.end), (None, None));
    let mut rest = Vec::new();
    assert_eq!(second.read_to_end(&mut rest).await.unwrap(), 0);
    let line: serde_json::Value = serde_json::from_str(&lines.recv().await.unwrap()).unwrap();
    assert_eq!(
        (&line["response_flags"], &line["upstream_host"]),
        (&serde_json::json!("UO"), &serde_json::Value::Null)
    );

    // The first keeps working.
    round_trip(&mut first, b"still there").await;
    let rendered = exporter.render();
    has_line(
        &rendered,
        "mesh_proxy_upstream_connections_overflow_total{cluster=\"echo\",kind=\"max_connections\"} 1",
    );
    has_line(
        &rendered,
        "mesh_proxy_upstream_connections_active{cluster=\"echo\"} 1",
    );
    has_line(
        &rendered,
        "mesh_proxy_upstream_connections_total{cluster=\"echo\"} 1",
    );
    let closed_uo = rendered
        .lines()
        .filter(|l| l.starts_with("istio_tcp_connections_closed_total{"))
        .filter(|l| l.contains("response_flags=\"UO\""))
        .collect::<Vec<_>>();
    assert_eq!(closed_uo.len(), 1, "{rendered}");
    assert!(closed_uo[0].ends_with("} 1"), "{}", closed_uo[0]);

    first.shutdown().await.unwrap();
    first.read_to_end(&mut rest).await.unwrap();
    let log = first_proxied.await.unwrap();
    assert_eq!(log.response_flags.to_string(), "-");
    assert_eq!((log.bytes_received, log.bytes_sent), (14, 14));
    has_line(
        &exporter.render(),
        "mesh_proxy_upstream_connections_active{cluster=\"echo\"} 0",
    );

    // The slot is free again.
    let (mut third, proxy_down) = tokio::io::duplex(64);
    let third_proxied = {
        let (snapshot, telemetry) = (Arc::clone(&snapshot), telemetry.clone());
        let config = tcp_proxy("echo", None);
        tokio::spawn(async move {
            proxy(proxy_down, &config, &snapshot, &downstream(), &telemetry).await
        })
    };
    round_trip(&mut third, b"three").await;
    third.shutdown().await.unwrap();
    assert_eq!(third_proxied.await.unwrap().response_flags.to_string(), "-");
}

#[tokio::test]
async fn max_downstream_connection_duration_closes_the_connection_with_dt() {
    let upstream = echo().await;
    let snapshot = snapshot_with("echo", Some(upstream));
    let mut config = tcp_proxy("echo", None);
    let max = Duration::from_millis(200);
    config.max_duration = Some(MaxDuration {
        duration: max,
        jitter_percent: 0.0,
    });
    let (mut client, proxy_down) = tokio::io::duplex(64);
    let proxied = tokio::spawn(async move {
        proxy(proxy_down, &config, &snapshot, &downstream(), &quiet()).await
    });
    round_trip(&mut client, b"hi").await;
    // Nothing more is sent: only the maximum duration ends the connection.
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, client.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, 0);
    let log = proxied.await.unwrap();
    assert_eq!(log.response_flags.to_string(), "DT");
    assert_eq!(log.end, Some(CopyEnd::MaxDuration));
    assert_eq!((log.bytes_received, log.bytes_sent), (2, 2));
    assert!(log.duration >= max, "{:?}", log.duration);
}

#[test]
fn jitter_adds_up_to_its_percentage() {
    let max = MaxDuration {
        duration: Duration::from_secs(10),
        jitter_percent: 20.0,
    };
    assert_eq!(max.with_jitter(0.0), Duration::from_secs(10));
    assert_eq!(max.with_jitter(0.5), Duration::from_secs(11));
    assert_eq!(max.with_jitter(1.0), Duration::from_secs(12));
}

/// The tcp_proxy of a listener whose proxy has `fields` (a YAML flow mapping's inside).
fn compiled(fields: &str) -> Result<Arc<TcpProxy>, String> {
    let listener: Listener = from_yaml(&format!(
        r#"
name: l
address: {{ socket_address: {{ address: 0.0.0.0, port_value: 27017 }} }}
traffic_direction: OUTBOUND
filter_chains:
  - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config: {{
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy,
          stat_prefix: s, cluster: c, {fields} }}
"#
    ))
    .unwrap();
    let compiled = compile_listener(&listener).map_err(|e| e.to_string())?;
    assert_eq!(
        compiled.traffic_direction,
        crate::config::TrafficDirection::Outbound
    );
    match &compiled.filter_chains[0].filter {
        NetworkFilter::Tcp(tcp) => Ok(Arc::clone(tcp)),
        NetworkFilter::Http(_) => panic!("a tcp_proxy chain"),
    }
}

#[test]
fn max_downstream_connection_duration_compiles_with_its_jitter() {
    assert_eq!(compiled("idle_timeout: 5s").unwrap().max_duration, None);
    assert_eq!(
        compiled(
            "max_downstream_connection_duration: 90s, \
             max_downstream_connection_duration_jitter_percentage: { value: 12.5 }"
        )
        .unwrap()
        .max_duration,
        Some(MaxDuration {
            duration: Duration::from_secs(90),
            jitter_percent: 12.5,
        })
    );
    let path = "Listener \"l\": filter_chains[0].filters[0].typed_config";
    assert_eq!(
        compiled("max_downstream_connection_duration: 0.0005s").unwrap_err(),
        format!("{path}.max_downstream_connection_duration: must be at least 1ms")
    );
    assert_eq!(
        compiled(
            "max_downstream_connection_duration: 1s, \
             max_downstream_connection_duration_jitter_percentage: { value: 150 }"
        )
        .unwrap_err(),
        format!(
            "{path}.max_downstream_connection_duration_jitter_percentage.value: \
             150 is not a percentage between 0 and 100"
        )
    );
}

#[tokio::test]
async fn a_failed_connect_is_counted_and_not_left_active() {
    let dead = closed_port().await;
    let snapshot = snapshot_with("echo", Some(dead));
    let telemetry = quiet();
    let (_client, proxy_down) = tokio::io::duplex(64);
    let log = proxy(
        proxy_down,
        &tcp_proxy("echo", None),
        &snapshot,
        &downstream(),
        &telemetry,
    )
    .await;
    assert_eq!(log.response_flags.to_string(), "UF");
    let rendered = Exporter::new(Arc::clone(&telemetry.stats)).render();
    for line in [
        "mesh_proxy_upstream_connections_active{cluster=\"echo\"} 0",
        "mesh_proxy_upstream_connections_total{cluster=\"echo\"} 1",
        "mesh_proxy_upstream_connect_failures_total{cluster=\"echo\"} 1",
        "mesh_proxy_upstream_connections_overflow_total{cluster=\"echo\",kind=\"max_connections\"} 0",
    ] {
        has_line(&rendered, line);
    }
}
