//! Istio's standard metrics from the `mesh-proxy` binary, scraped from its metrics port: one
//! sidecar, two sidecars exchanging peer metadata, and a TCP connection with its access log
//! line.

mod support;

use std::{net::SocketAddr, process::Command, time::Duration};

use mesh_testing::Patience;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use self::support::{
    Process, echo_upstream, free_port, request, spawn_with_stdout, tcp_reply_upstream,
};

const BIN: &str = env!("CARGO_BIN_EXE_mesh-proxy");

const PRODUCTPAGE: &str = r#"node:
  id: "sidecar~127.0.0.1~productpage-v1-6b7f.default~default.svc.cluster.local"
  cluster: productpage.default
  metadata:
    NAMESPACE: default
    WORKLOAD_NAME: productpage-v1
    LABELS: {app: productpage, version: v1}
"#;

const REVIEWS: &str = r#"node:
  id: "sidecar~127.0.0.2~reviews-v2-5b7d.default~default.svc.cluster.local"
  cluster: reviews.default
  metadata:
    NAMESPACE: default
    WORKLOAD_NAME: reviews-v2
    CLUSTER_ID: east
    LABELS: {app: reviews, version: v2, service.istio.io/canonical-revision: "2.0"}
"#;

/// Istio's labels of our two workloads, in the order the proxy prints them.
const PRODUCTPAGE_LABELS: [&str; 8] = [
    "productpage-v1",
    "default",
    "unknown",
    "productpage",
    "v1",
    "productpage",
    "v1",
    "Kubernetes",
];
const REVIEWS_LABELS: [&str; 8] = [
    "reviews-v2",
    "default",
    "unknown",
    "reviews",
    "v2",
    "reviews",
    "2.0",
    "east",
];
const UNKNOWN: [&str; 8] = ["unknown"; 8];

/// An HTTP listener named `listener` on `port` that routes everything to `cluster`, and that
/// cluster's one endpoint.
fn http_resources(listener: &str, port: u16, cluster: &str, endpoint: SocketAddr) -> String {
    format!(
        r#"static_resources:
  listeners:
  - name: {listener}
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: {listener}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: /}}
                route: {{cluster: "{cluster}"}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
{clusters}"#,
        clusters = cluster_yaml(cluster, endpoint),
    )
}

fn cluster_yaml(cluster: &str, endpoint: SocketAddr) -> String {
    // Inbound clusters carry the service in Istio's metadata; outbound ones name it.
    let metadata = if cluster.starts_with("inbound|") {
        "    metadata:\n      filter_metadata:\n        istio:\n          services:\n          - {host: \
         reviews.default.svc.cluster.local, name: reviews, namespace: default}\n"
    } else {
        ""
    };
    format!(
        r#"  clusters:
  - name: "{cluster}"
    type: STATIC
    connect_timeout: 1s
{metadata}    load_assignment:
      cluster_name: "{cluster}"
      endpoints:
      - lb_endpoints:
        - endpoint:
            address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
"#,
        port = endpoint.port()
    )
}

/// Istio's label set, as the proxy prints it.
fn labels(
    reporter: &str,
    source: [&str; 8],
    destination: [&str; 8],
    service: [&str; 3],
    outcome: &str,
) -> String {
    let workload = |side: &str, values: [&str; 8]| {
        let names = [
            "workload",
            "workload_namespace",
            "principal",
            "app",
            "version",
            "canonical_service",
            "canonical_revision",
            "cluster",
        ];
        names
            .iter()
            .zip(values)
            .map(|(name, value)| format!("{side}_{name}=\"{value}\","))
            .collect::<String>()
    };
    let policy = if reporter == "source" {
        "unknown"
    } else {
        "none"
    };
    format!(
        "reporter=\"{reporter}\",{}{}destination_service=\"{}\",destination_service_name=\"{}\",\
         destination_service_namespace=\"{}\",{outcome},connection_security_policy=\"{policy}\"",
        workload("source", source),
        workload("destination", destination),
        service[0],
        service[1],
        service[2],
    )
}

const HTTP_200: &str = "request_protocol=\"http\",response_code=\"200\",grpc_response_status=\"\",response_flags=\"-\"";

/// Starts the binary on `bootstrap` with its metrics port on `metrics`, once that port answers.
async fn start(bootstrap: &str, metrics: u16, dir: &tempfile::TempDir, name: &str) -> Process {
    let file = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&file, bootstrap).expect("write the bootstrap");
    let process = Process::spawn(
        Command::new(BIN)
            .args(["run", "--concurrency=1", "--health-address=none"])
            .arg(format!("--metrics-address=127.0.0.1:{metrics}"))
            .arg("--bootstrap")
            .arg(&file),
    );
    scrape(metrics).await;
    process
}

/// The metrics port's page, once it answers.
async fn scrape(port: u16) -> String {
    let response = Patience::new(Duration::from_secs(20))
        .eventually(|| request(port, "GET", "/stats/prometheus", &[]))
        .await
        .expect("the metrics port answers");
    assert_eq!(response.status, 200);
    response.body
}

/// Scrapes until `line` shows up, and returns the page.
async fn scrape_until(port: u16, line: &str) -> String {
    let found = Patience::new(Duration::from_secs(10))
        .eventually(|| async move {
            let page = scrape(port).await;
            if page.lines().any(|l| l == line) {
                Ok(page)
            } else {
                Err(page)
            }
        })
        .await;
    match found {
        Ok(page) => page,
        Err(timed_out) => panic!("{line}\nnot in\n{:?}", timed_out.last_failure),
    }
}

#[tokio::test]
async fn a_sidecar_counts_its_outbound_requests() {
    let upstream = echo_upstream(&[]).await;
    let (listener, metrics) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let cluster = "outbound|9080||reviews.default.svc.cluster.local";
    let bootstrap = format!(
        "{PRODUCTPAGE}{}",
        http_resources("outbound", listener, cluster, upstream)
    );
    let _proxy = start(&bootstrap, metrics, &dir, "productpage").await;

    for _ in 0..3 {
        let response = request(listener, "GET", "/reviews/0", &[]).await.unwrap();
        assert_eq!(response.status, 200);
    }

    let labels = labels(
        "source",
        PRODUCTPAGE_LABELS,
        UNKNOWN,
        ["reviews.default.svc.cluster.local", "reviews", "default"],
        HTTP_200,
    );
    let page = scrape_until(metrics, &format!("istio_requests_total{{{labels}}} 3")).await;
    let count = format!("istio_request_duration_milliseconds_count{{{labels}}} 3");
    assert!(page.lines().any(|l| l == count), "{count}\nnot in\n{page}");
    let sizes = format!("istio_response_bytes_sum{{{labels}}} 45");
    assert!(page.lines().any(|l| l == sizes), "{sizes}\nnot in\n{page}");
}

#[tokio::test]
async fn chained_sidecars_exchange_metadata_the_applications_never_see() {
    let app = echo_upstream(&["x-envoy-peer-metadata", "x-envoy-peer-metadata-id"]).await;
    let (outbound, inbound) = (free_port(), free_port());
    let (outbound_metrics, inbound_metrics) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let inbound_address: SocketAddr = ([127, 0, 0, 1], inbound).into();
    let reviews = format!(
        "{REVIEWS}{}",
        http_resources("virtualInbound", inbound, "inbound|9080||", app)
    );
    let productpage = format!(
        "{PRODUCTPAGE}{}",
        http_resources(
            "outbound",
            outbound,
            "outbound|9080||reviews.default.svc.cluster.local",
            inbound_address
        )
    );
    let _reviews = start(&reviews, inbound_metrics, &dir, "reviews").await;
    let _productpage = start(&productpage, outbound_metrics, &dir, "productpage").await;

    for _ in 0..2 {
        let response = request(
            outbound,
            "GET",
            "/reviews/1",
            &[("x-envoy-peer-metadata-id", "spoofed")],
        )
        .await
        .unwrap();
        assert_eq!(
            (response.status, response.body.as_str()),
            (
                200,
                "path=/reviews/1 x-envoy-peer-metadata=- x-envoy-peer-metadata-id=-"
            )
        );
        let exchanged: Vec<&str> = response
            .headers
            .iter()
            .map(|(name, _)| name.as_str())
            .filter(|name| name.starts_with("x-envoy-peer"))
            .collect();
        assert_eq!(exchanged, Vec::<&str>::new());
    }

    let service = ["reviews.default.svc.cluster.local", "reviews", "default"];
    let destination = labels(
        "destination",
        PRODUCTPAGE_LABELS,
        REVIEWS_LABELS,
        service,
        HTTP_200,
    );
    let source = labels(
        "source",
        PRODUCTPAGE_LABELS,
        REVIEWS_LABELS,
        service,
        HTTP_200,
    );
    scrape_until(
        inbound_metrics,
        &format!("istio_requests_total{{{destination}}} 2"),
    )
    .await;
    scrape_until(
        outbound_metrics,
        &format!("istio_requests_total{{{source}}} 2"),
    )
    .await;
}

#[tokio::test]
async fn a_tcp_connection_is_counted_and_logged_on_stdout() {
    let upstream = tcp_reply_upstream(b"pong!!").await;
    let (listener, metrics) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let cluster = "outbound|5432||db.data.svc.cluster.local";
    let bootstrap = format!(
        r#"{PRODUCTPAGE}static_resources:
  listeners:
  - name: db
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listener}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: db
          cluster: "{cluster}"
          access_log: [{{name: envoy.access_loggers.stdout, typed_config: {{"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}}}}]
{clusters}"#,
        clusters = cluster_yaml(cluster, upstream),
    );
    let file = dir.path().join("db.yaml");
    std::fs::write(&file, bootstrap).unwrap();
    let (_proxy, stdout) = spawn_with_stdout(
        Command::new(BIN)
            .args(["run", "--concurrency=1", "--health-address=none"])
            .arg(format!("--metrics-address=127.0.0.1:{metrics}"))
            .arg("--bootstrap")
            .arg(&file),
    );
    scrape(metrics).await;

    let mut client = tokio::net::TcpStream::connect(("127.0.0.1", listener))
        .await
        .unwrap();
    let client_address = client.local_addr().unwrap();
    client.write_all(b"ping").await.unwrap();
    client.shutdown().await.unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"pong!!");

    let labels = labels(
        "source",
        PRODUCTPAGE_LABELS,
        UNKNOWN,
        ["db.data.svc.cluster.local", "db", "data"],
        "request_protocol=\"tcp\",response_flags=\"-\"",
    );
    let page = scrape_until(
        metrics,
        &format!("istio_tcp_connections_closed_total{{{labels}}} 1"),
    )
    .await;
    for line in [
        format!("istio_tcp_connections_opened_total{{{labels}}} 1"),
        format!("istio_tcp_received_bytes_total{{{labels}}} 4"),
        format!("istio_tcp_sent_bytes_total{{{labels}}} 6"),
    ] {
        assert!(page.lines().any(|l| l == line), "{line}\nnot in\n{page}");
    }

    let line = tokio::task::spawn_blocking(move || stdout.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .unwrap();
    let mut entry: serde_json::Value = serde_json::from_str(&line).unwrap();
    let fields = entry.as_object_mut().unwrap();
    assert!(fields.remove("start_time").unwrap().is_string(), "{line}");
    assert!(fields.remove("duration").unwrap().is_u64(), "{line}");
    assert_eq!(
        entry,
        serde_json::json!({
            "method": null,
            "path": null,
            "protocol": null,
            "response_code": null,
            "response_flags": "-",
            "bytes_received": 4,
            "bytes_sent": 6,
            "upstream_host": upstream.to_string(),
            "upstream_cluster": cluster,
            "x_request_id": null,
            "traceparent": null,
            "authority": null,
            "user_agent": null,
            "route_name": null,
            "downstream_remote_address": client_address.to_string(),
            "downstream_local_address": format!("127.0.0.1:{listener}"),
        })
    );
}
