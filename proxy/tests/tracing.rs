//! A connection manager's `tracing` with Envoy's OpenTelemetry provider: the sampling
//! decision, the `traceparent` sent upstream, the exported span and its attributes, and the
//! configurations the proxy refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tracing_support;

use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode};
use pretty_assertions::assert_eq;

use self::tracing_support::{
    Collector, FAST, Proxy, attributes, bootstrap, hex, parse, tracing, upstream,
};

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT: &str = "b7ad6b7169203331";

async fn world(
    direction: &str,
    random: u32,
) -> (
    Proxy,
    Collector,
    tokio::sync::mpsc::UnboundedReceiver<http::HeaderMap>,
) {
    let collector = Collector::start().await;
    let (backend, seen) = upstream().await;
    let yaml = bootstrap(direction, &tracing(random), backend, collector.address);
    let proxy = Proxy::start(parse(&yaml).unwrap(), FAST).await;
    (proxy, collector, seen)
}

fn traceparent_of(headers: &http::HeaderMap) -> String {
    headers["traceparent"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_sampled_traceparent_continues_the_trace() {
    let (proxy, mut collector, mut seen) = world("INBOUND", 0).await;
    let incoming = format!("00-{TRACE}-{PARENT}-01");
    let (status, body) = proxy
        .get(
            "/productpage?u=1",
            &[
                ("traceparent", &incoming),
                ("x-request-id", "req-1"),
                ("x-tenant", "acme"),
            ],
        )
        .await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (resource, spans) = collector.next_spans().await;
    assert_eq!(
        resource,
        vec![
            ("service.name".to_owned(), "productpage.default".to_owned()),
            ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
            ("telemetry.sdk.name".to_owned(), "mesh-proxy".to_owned()),
            (
                "telemetry.sdk.version".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned()
            ),
        ]
    );
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(hex(&span.trace_id), TRACE);
    assert_eq!(hex(&span.parent_span_id), PARENT);
    assert_eq!(span.span_id.len(), 8);
    assert_eq!(span.kind, SpanKind::Server as i32);
    assert_eq!(span.name, "ingress");
    assert_eq!(span.status, None);
    assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    // The upstream's span is a child of ours.
    let upstream = seen.recv().await.unwrap();
    assert_eq!(
        traceparent_of(&upstream),
        format!("00-{TRACE}-{}-01", hex(&span.span_id))
    );
    let expected: Vec<(String, String)> = [
        ("component", "proxy"),
        ("downstream_cluster", "-"),
        ("guid:x-request-id", "req-1"),
        ("http.method", "GET"),
        ("http.protocol", "HTTP/1.1"),
        ("http.status_code", "200"),
        ("http.url", "http://productpage:9080/productpage?u=1"),
        (
            "node_id",
            "sidecar~127.0.0.1~productpage-v1.default~default.svc.cluster.local",
        ),
        ("request_size", "0"),
        ("response_flags", "-"),
        ("response_size", "2"),
        ("team", "bookinfo"),
        ("tenant", "acme"),
        ("upstream_cluster", "backend"),
        ("upstream_cluster.name", "backend"),
        ("peer.address", "127.0.0.1"),
        ("user_agent", "-"),
        ("zone", "zone-a"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect::<std::collections::BTreeSet<_>>()
    .into_iter()
    .collect();
    assert_eq!(attributes(span), expected);
}

#[tokio::test]
async fn an_unsampled_traceparent_is_propagated_but_not_exported() {
    let (mut proxy, mut collector, mut seen) = world("INBOUND", 100).await;
    let incoming = format!("00-{TRACE}-{PARENT}-00");
    let (status, _) = proxy.get("/", &[("traceparent", &incoming)]).await;
    assert_eq!(status, 200);
    let sent = traceparent_of(&seen.recv().await.unwrap());
    assert!(sent.starts_with(&format!("00-{TRACE}-")), "{sent}");
    assert!(sent.ends_with("-00"), "{sent}");
    assert_ne!(sent, incoming, "the proxy's own span id is the parent");
    proxy.flush().await;
    assert!(collector.nothing_more());
    assert_eq!(proxy.spans.counts().exported(), 0);
}

#[tokio::test]
async fn no_context_starts_a_sampled_trace_at_random_sampling_100() {
    let (proxy, mut collector, mut seen) = world("OUTBOUND", 100).await;
    let (status, _) = proxy.get("/", &[]).await;
    assert_eq!(status, 200);
    let (_, spans) = collector.next_spans().await;
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.parent_span_id, Vec::<u8>::new());
    assert_eq!(span.kind, SpanKind::Client as i32);
    assert_eq!(span.name, "egress productpage:9080");
    assert_eq!(
        traceparent_of(&seen.recv().await.unwrap()),
        format!("00-{}-{}-01", hex(&span.trace_id), hex(&span.span_id))
    );
}

#[tokio::test]
async fn random_sampling_0_exports_nothing() {
    let (mut proxy, mut collector, mut seen) = world("INBOUND", 0).await;
    let (status, _) = proxy.get("/", &[]).await;
    assert_eq!(status, 200);
    assert!(traceparent_of(&seen.recv().await.unwrap()).ends_with("-00"));
    proxy.flush().await;
    assert!(collector.nothing_more());
    assert_eq!(proxy.spans.counts().exported(), 0);
    assert_eq!(proxy.spans.counts().queue_full(), 0);
}

#[tokio::test]
async fn a_503_without_endpoints_is_an_error_span_with_uh() {
    let (proxy, mut collector, _seen) = world("INBOUND", 100).await;
    let (status, body) = proxy.get("/dead", &[]).await;
    assert_eq!((status, body.as_str()), (503, "no healthy upstream"));
    let (_, spans) = collector.next_spans().await;
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    let status = span.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    let attributes = attributes(span);
    let get = |key: &str| {
        attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("http.status_code"), Some("503"));
    assert_eq!(get("response_flags"), Some("UH"));
    assert_eq!(get("upstream_cluster"), Some("dead"));
    assert_eq!(get("error"), Some("true"));
    assert_eq!(get("response_size"), Some("19"));
}

#[tokio::test]
async fn spans_to_a_cluster_without_endpoints_are_counted_as_failed() {
    let collector = Collector::start().await;
    let (backend, _seen) = upstream().await;
    let yaml = bootstrap("INBOUND", &tracing(100), backend, collector.address)
        .replace("cluster_name: otel-collector}", "cluster_name: dead}");
    let mut proxy = Proxy::start(parse(&yaml).unwrap(), FAST).await;
    assert_eq!(proxy.get("/", &[]).await.0, 200);
    assert_eq!(proxy.get("/", &[]).await.0, 200);
    proxy.flush().await;
    assert_eq!(proxy.spans.counts().export_failed(), 2);
    assert_eq!(proxy.spans.counts().exported(), 0);
}

#[tokio::test]
async fn refused_tracing_configs_name_their_field() {
    let address = "127.0.0.1:9".parse().unwrap();
    // A bootstrap cannot even spell another tracer's config; over xDS, the connection manager
    // refuses it (see the compiler's unit tests).
    let zipkin = tracing(100).replace(
        "envoy.config.trace.v3.OpenTelemetryConfig",
        "envoy.config.trace.v3.ZipkinConfig",
    );
    let error = parse(&bootstrap("INBOUND", &zipkin, address, address)).unwrap_err();
    assert_eq!(
        error,
        "bootstrap tracing.yaml: envoy.config.bootstrap.v3.Bootstrap at \
         static_resources.listeners[0].filter_chains[0].filters[0].typed_config.tracing.provider.\
         typed_config: unknown \"@type\": no message envoy.config.trace.v3.ZipkinConfig in \
         Envoy's API as mesh.rs knows it"
    );
    let cases = [
        (
            tracing(100).replace(
                "{tag: team, literal: {value: bookinfo}}",
                "{tag: pod, environment: {name: POD_NAME}}",
            ),
            "tracing.custom_tags[0].environment: custom tag type \"environment\" is not \
             supported by mesh-proxy: use literal or request_header",
        ),
        (
            tracing(100).replace("cluster_name: otel-collector", "cluster_name: nowhere"),
            "tracing.provider.typed_config.grpc_service.envoy_grpc.cluster_name: unknown \
             cluster \"nowhere\": the tracer's collector must be a known cluster",
        ),
        (
            format!("{}spawn_upstream_span: true\n", tracing(100)),
            "tracing.spawn_upstream_span: not supported by mesh-proxy",
        ),
    ];
    for (config, reason) in cases {
        let error = parse(&bootstrap("INBOUND", &config, address, address)).unwrap_err();
        let expected =
            format!("Listener \"traced\": filter_chains[0].filters[0].typed_config.{reason}");
        assert!(
            error.ends_with(&expected),
            "{error}\n  does not end with\n{expected}"
        );
    }
}
