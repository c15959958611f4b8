//! Istio's standard metrics from the `mesh-proxy` binary, scraped from its metrics port: one
//! sidecar, two sidecars exchanging peer metadata, and a TCP connection with its access log
//! line.

mod support;

use std::{net::SocketAddr, process::Command, time::Duration};

use mesh_testing::Patience;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use self::support::{
    Process,
    bootstrap::{StaticBootstrap, all_to, mesh_proxy_run},
    echo_upstream, first_answer, free_port, request, spawn_with_stdout, tcp_reply_upstream,
};

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

/// The service of the `reviews` workloads, as Istio names it in metrics and metadata.
const REVIEWS_SERVICE: [&str; 3] = ["reviews.default.svc.cluster.local", "reviews", "default"];

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

/// The command that runs the binary on `bootstrap`, written as `dir/<name>.yaml`, with its
/// metrics port on `metrics`.
fn command(
    bootstrap: &StaticBootstrap,
    metrics: u16,
    dir: &tempfile::TempDir,
    name: &str,
) -> Command {
    let file = bootstrap.write(dir.path(), &format!("{name}.yaml"));
    let mut command = mesh_proxy_run(&file);
    command
        .arg("--health-address=none")
        .arg(format!("--metrics-address=127.0.0.1:{metrics}"));
    command
}

/// Starts the binary as [`command`] does, once its metrics port answers.
async fn start(
    bootstrap: &StaticBootstrap,
    metrics: u16,
    dir: &tempfile::TempDir,
    name: &str,
) -> Process {
    let process = Process::spawn(&mut command(bootstrap, metrics, dir, name));
    scrape(metrics).await;
    process
}

/// The metrics port's page, once it answers.
async fn scrape(port: u16) -> String {
    let response = first_answer(port, "/stats/prometheus", Duration::from_secs(20)).await;
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
    let bootstrap = StaticBootstrap::new(PRODUCTPAGE)
        .http_listener("outbound", listener, &all_to(cluster))
        .static_cluster(cluster, upstream);
    let _proxy = start(&bootstrap, metrics, &dir, "productpage").await;

    for _ in 0..3 {
        let response = request(listener, "GET", "/reviews/0", &[]).await.unwrap();
        assert_eq!(response.status, 200);
    }

    let labels = labels(
        "source",
        PRODUCTPAGE_LABELS,
        UNKNOWN,
        REVIEWS_SERVICE,
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
    // Inbound clusters carry the service in Istio's metadata; outbound ones name it.
    let reviews = StaticBootstrap::new(REVIEWS)
        .http_listener("virtualInbound", inbound, &all_to("inbound|9080||"))
        .service_cluster("inbound|9080||", app, REVIEWS_SERVICE);
    let outbound_cluster = "outbound|9080||reviews.default.svc.cluster.local";
    let productpage = StaticBootstrap::new(PRODUCTPAGE)
        .http_listener("outbound", outbound, &all_to(outbound_cluster))
        .static_cluster(outbound_cluster, inbound_address);
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

    let service = REVIEWS_SERVICE;
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
    let bootstrap = StaticBootstrap::new(PRODUCTPAGE)
        .tcp_listener("db", listener, cluster)
        .static_cluster(cluster, upstream);
    let (_proxy, stdout) = spawn_with_stdout(&mut command(&bootstrap, metrics, &dir, "db"));
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
