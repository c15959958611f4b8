//! The tracing tests' world: a fake OTLP collector, an upstream that reports the headers it
//! received, and a proxy started in-process from a bootstrap whose connection manager traces.

#![allow(dead_code)]

use std::{collections::HashMap, net::SocketAddr, path::Path, sync::Arc, time::Duration};

use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_proxy::{
    bootstrap::Bootstrap,
    capture::OriginalDst,
    config::ConfigStore,
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
    trace_export::{ExportOptions, NodeTags, SpanExporter, SpanSink, exporter},
    upstream::Pools,
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::any_value,
    trace::v1::Span,
};
use tokio::{net::TcpListener, sync::mpsc};
use tonic::transport::{Server, server::TcpIncoming};

/// How long any single wait may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Exports every 50 ms, so that a test waits for spans, not for Envoy's 5 s timer.
pub const FAST: ExportOptions = ExportOptions {
    capacity: 2048,
    min_flush_spans: ExportOptions::MIN_FLUSH_SPANS,
    flush_interval: Duration::from_millis(50),
};

/// The tracing config of the tests, with `random_sampling` at `random` percent.
pub fn tracing(random: u32) -> String {
    format!(
        r#"
random_sampling: {{value: {random}}}
custom_tags:
- {{tag: team, literal: {{value: bookinfo}}}}
- {{tag: tenant, request_header: {{name: x-tenant, default_value: none}}}}
provider:
  name: envoy.tracers.opentelemetry
  typed_config:
    "@type": type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig
    grpc_service: {{envoy_grpc: {{cluster_name: otel-collector}}, timeout: 1s}}
    service_name: productpage.default
"#
    )
}

/// A bootstrap whose listener (`direction` `INBOUND` or `OUTBOUND`) traces with `tracing`,
/// routes `/dead` to a cluster without endpoints and everything else to `upstream`.
pub fn bootstrap(
    direction: &str,
    tracing: &str,
    upstream: SocketAddr,
    collector: SocketAddr,
) -> String {
    let tracing = indent(tracing.trim(), 12);
    format!(
        r#"
node: {{id: "sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local", locality: {{zone: zone-a}}}}
static_resources:
  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    load_assignment:
      cluster_name: backend
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {up}}}}}}}}}]}}]
  - name: dead
    type: STATIC
    connect_timeout: 1s
    load_assignment: {{cluster_name: dead}}
  - name: otel-collector
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment:
      cluster_name: otel-collector
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {col}}}}}}}}}]}}]
  listeners:
  - name: traced
    address: {{socket_address: {{address: 127.0.0.1, port_value: 15006}}}}
    traffic_direction: {direction}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: traced
          tracing:
{tracing}
          route_config:
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - {{match: {{prefix: /dead}}, route: {{cluster: dead}}}}
              - {{match: {{prefix: /}}, route: {{cluster: backend}}}}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
"#,
        up = upstream.port(),
        col = collector.port(),
    )
}

fn indent(text: &str, by: usize) -> String {
    text.lines()
        .map(|line| format!("{}{line}\n", " ".repeat(by)))
        .collect::<String>()
        .trim_end()
        .to_owned()
}

/// Parses `yaml` as the proxy's bootstrap.
pub fn parse(yaml: &str) -> Result<Bootstrap, String> {
    Bootstrap::parse(yaml, Path::new("tracing.yaml")).map_err(|e| e.to_string())
}

/// A fake OTLP/gRPC collector on loopback: every export it receives comes out of `exports`.
pub struct Collector {
    pub address: SocketAddr,
    pub exports: mpsc::UnboundedReceiver<ExportTraceServiceRequest>,
}

struct FakeCollector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for FakeCollector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Collector {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (tx, exports) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let _ = Server::builder()
                .add_service(TraceServiceServer::new(FakeCollector(tx)))
                .serve_with_incoming(TcpIncoming::from(listener))
                .await;
        });
        Self { address, exports }
    }

    /// The spans of the next export, waiting at most [`PATIENCE`].
    pub async fn next_spans(&mut self) -> (Vec<(String, String)>, Vec<Span>) {
        let export = tokio::time::timeout(PATIENCE, self.exports.recv())
            .await
            .expect("an export within the patience")
            .expect("the collector runs");
        assert_eq!(export.resource_spans.len(), 1);
        let resource_spans = &export.resource_spans[0];
        let resource = resource_spans
            .resource
            .as_ref()
            .map(|r| {
                r.attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), string(kv.value.as_ref())))
                    .collect()
            })
            .unwrap_or_default();
        let spans = resource_spans
            .scope_spans
            .iter()
            .flat_map(|s| s.spans.clone())
            .collect();
        (resource, spans)
    }

    /// Whether no export arrived; call after the exporter has flushed (shut down).
    pub fn nothing_more(&mut self) -> bool {
        self.exports.try_recv().is_err()
    }
}

/// The attributes of `span`, as (key, string value), sorted by key.
pub fn attributes(span: &Span) -> Vec<(String, String)> {
    let mut out: Vec<_> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.clone(), string(kv.value.as_ref())))
        .collect();
    out.sort();
    out
}

fn string(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// An upstream that answers `200 ok` and reports the headers of each request.
pub async fn upstream() -> (SocketAddr, mpsc::UnboundedReceiver<HeaderMap>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let service = service_fn(move |request: Request<Incoming>| {
                let _ = tx.send(request.headers().clone());
                async move {
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                        bytes::Bytes::from_static(b"ok"),
                    )))
                }
            });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, seen)
}

/// The proxy under test, serving `bootstrap` on an ephemeral port.
pub struct Proxy {
    pub address: SocketAddr,
    pub spans: SpanSink,
    exporter: Option<SpanExporter>,
    _plane: DataPlane,
}

impl Proxy {
    pub async fn start(bootstrap: Bootstrap, options: ExportOptions) -> Self {
        let node = NodeTags {
            id: bootstrap.node.id.clone(),
            zone: "zone-a".into(),
        };
        let store = Arc::new(ConfigStore::new(bootstrap.static_snapshot));
        let (spans, exporter) = exporter::spawn(Arc::clone(&store), Pools::new(), node, options);
        let http = Arc::new(HttpContext::new(Arc::clone(&store)).with_spans(spans.clone()));
        let plane = DataPlane::start(
            store,
            http,
            ServeOptions {
                original_dst: OriginalDst::Socket,
                bind_ip: None,
                port_overrides: HashMap::from([("traced".to_owned(), 0)]),
            },
        );
        tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
        let address = plane.bound()["traced"];
        Self {
            address,
            spans,
            exporter: Some(exporter),
            _plane: plane,
        }
    }

    /// Sends `GET path` with `headers` over HTTP/1.1; returns the status and body.
    pub async fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let stream = tokio::net::TcpStream::connect(self.address).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut request = Request::get(path).header("host", "productpage:9080");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Full::<bytes::Bytes>::default()).unwrap();
        let response = tokio::time::timeout(PATIENCE, sender.send_request(request))
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Flushes what is queued and stops the exporter.
    pub async fn flush(&mut self) {
        if let Some(exporter) = self.exporter.take() {
            exporter.shutdown(PATIENCE).await;
        }
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
