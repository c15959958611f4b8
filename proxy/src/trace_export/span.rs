//! One connection manager span: started when the request arrives (the tracing decision and
//! the `traceparent` sent upstream), finished when the response ends, with Envoy's tags.
//!
//! As Envoy's OpenTelemetry tracer without `spawn_upstream_span`: an `INBOUND` listener's span
//! is `SERVER` and named `ingress`; an `OUTBOUND` listener's is `CLIENT` and named
//! `egress <host>`; any other listener's is `SERVER` `ingress`.

use std::{net::SocketAddr, sync::Arc, time::SystemTime};

use http::{HeaderMap, Method, Version, header::USER_AGENT};
use opentelemetry_proto::tonic::{
    common::v1::{AnyValue, KeyValue, any_value},
    trace::v1::{Span, Status, span::SpanKind, status::StatusCode},
};

use super::{
    SpanSink,
    config::{TagValue, TracingConfig},
    context::{Parent, TRACEPARENT, TRACESTATE, parse_traceparent, traceparent},
    sampling::{X_CLIENT_TRACE_ID, decide},
};
use crate::response_flags::ResponseFlags;

/// What the connection manager knows when a request arrives.
#[derive(Debug)]
pub struct SpanStart<'a> {
    /// Whether the listener is `OUTBOUND` (Envoy's egress operation).
    pub egress: bool,
    /// The request's authority.
    pub host: &'a str,
    /// The method.
    pub method: &'a Method,
    /// The path and query as the client sent them.
    pub path: &'a str,
    /// The client's HTTP version.
    pub version: Version,
    /// The client's address.
    pub peer: SocketAddr,
}

/// What is known when the response ends.
#[derive(Debug, Default)]
pub struct SpanEnd {
    /// The response status.
    pub status: u16,
    /// The request's response flags.
    pub flags: ResponseFlags,
    /// The upstream cluster, when there was one.
    pub upstream_cluster: Option<String>,
    /// Request body bytes.
    pub request_size: u64,
    /// Response body bytes.
    pub response_size: u64,
}

/// A sampled span between its request and the end of its response.
#[derive(Debug)]
pub struct ActiveSpan {
    sink: SpanSink,
    config: Arc<TracingConfig>,
    span: Span,
}

/// Starts the span of a request under `config`, and writes the `traceparent` the upstream
/// gets (our span as its parent) into `headers`. Returns the span only when it is sampled:
/// an unsampled one is propagated but never recorded. A malformed `traceparent` starts no
/// span and is forwarded as it came, as Envoy does.
pub fn start(
    sink: &SpanSink,
    config: &Arc<TracingConfig>,
    request: &SpanStart<'_>,
    headers: &mut HeaderMap,
) -> Option<ActiveSpan> {
    let (trace_id, parent, sampled) = match headers.get(TRACEPARENT) {
        Some(value) => {
            let Parent {
                trace_id,
                span_id,
                sampled,
            } = parse_traceparent(value.as_bytes())?;
            (trace_id, Some(span_id), sampled)
        }
        None => {
            let sampled = decide(config, headers, rand::random());
            (nonzero(rand::random), None, sampled)
        }
    };
    let span_id: [u8; 8] = nonzero(rand::random);
    headers.insert(TRACEPARENT, traceparent(&trace_id, &span_id, sampled));
    if !sampled {
        return None;
    }
    let (kind, name) = if request.egress {
        (SpanKind::Client, format!("egress {}", request.host))
    } else {
        (SpanKind::Server, "ingress".to_owned())
    };
    let mut span = Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        trace_state: header(headers, TRACESTATE).unwrap_or_default(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name,
        kind: kind as i32,
        start_time_unix_nano: unix_nanos(SystemTime::now()),
        ..Span::default()
    };
    let tags = &mut span.attributes;
    tag(tags, "node_id", sink.node.id.clone());
    tag(tags, "zone", sink.node.zone.clone());
    tag(tags, "component", "proxy".into());
    if let Some(id) = header(headers, "x-request-id") {
        tag(tags, "guid:x-request-id", id);
    }
    if let Some(id) = header(headers, X_CLIENT_TRACE_ID) {
        tag(tags, "guid:x-client-trace-id", id);
    }
    tag(
        tags,
        "http.url",
        url(headers, request, config.max_path_tag_length),
    );
    tag(tags, "http.method", request.method.to_string());
    tag(tags, "http.protocol", protocol(request.version).into());
    let downstream = header(headers, "x-envoy-downstream-service-cluster");
    tag(tags, "downstream_cluster", downstream.unwrap_or_else(dash));
    let agent = header(headers, USER_AGENT.as_str());
    tag(tags, "user_agent", agent.unwrap_or_else(dash));
    tag(tags, "peer.address", request.peer.ip().to_string());
    for custom in &config.custom_tags {
        let value = match &custom.value {
            TagValue::Literal(value) => value.clone(),
            TagValue::RequestHeader { name, default } => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map_or_else(|| default.clone(), str::to_owned),
        };
        if !value.is_empty() {
            set_tag(tags, &custom.tag, value);
        }
    }
    Some(ActiveSpan {
        sink: sink.clone(),
        config: Arc::clone(config),
        span,
    })
}

// === impl ActiveSpan ===

impl ActiveSpan {
    /// Renames the span (Envoy's `setOperation`): a route's decorator, or an
    /// `x-envoy-decorator-operation` that overrides it.
    pub fn set_name(&mut self, name: &str) {
        name.clone_into(&mut self.span.name);
    }

    /// Ends the span with the response's outcome and queues it for export.
    pub fn finish(mut self, end: SpanEnd) {
        let tags = &mut self.span.attributes;
        tag(tags, "http.status_code", end.status.to_string());
        tag(tags, "request_size", end.request_size.to_string());
        tag(tags, "response_size", end.response_size.to_string());
        tag(tags, "response_flags", end.flags.to_string());
        if let Some(cluster) = end.upstream_cluster {
            tag(tags, "upstream_cluster", cluster.clone());
            tag(tags, "upstream_cluster.name", cluster);
        }
        if end.status >= 500 {
            tag(tags, "error", "true".into());
            self.span.status = Some(Status {
                code: StatusCode::Error as i32,
                message: String::new(),
            });
        }
        self.span.end_time_unix_nano = unix_nanos(SystemTime::now());
        self.sink.push(Arc::clone(&self.config.service), self.span);
    }
}

/// Envoy's `http.url`: `<x-forwarded-proto>://<host><path>`, the path cut to
/// `max_path_tag_length` characters.
fn url(headers: &HeaderMap, request: &SpanStart<'_>, max_path: usize) -> String {
    let scheme = header(headers, "x-forwarded-proto").unwrap_or_else(|| "http".into());
    let path: String = request.path.chars().take(max_path).collect();
    format!("{scheme}://{}{path}", request.host)
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn dash() -> String {
    "-".to_owned()
}

fn tag(tags: &mut Vec<KeyValue>, key: &str, value: String) {
    tags.push(KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..KeyValue::default()
    });
}

/// Keys are unique: a custom tag replaces a built-in one of the same key, as Envoy's do.
fn set_tag(tags: &mut Vec<KeyValue>, key: &str, value: String) {
    tags.retain(|kv| kv.key != key);
    tag(tags, key, value);
}

fn unix_nanos(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Random ids are never all zeros, which W3C reserves for "invalid".
fn nonzero<const N: usize>(draw: impl Fn() -> [u8; N]) -> [u8; N] {
    let mut id = draw();
    if id == [0; N]
        && let Some(last) = id.last_mut()
    {
        *last = 1;
    }
    id
}
