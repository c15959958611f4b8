//! The connection manager's hooks: start a request's span (and its decorator [`Operation`]),
//! name it once the response is known, and end it with the response.

use std::sync::{Arc, atomic::AtomicU64};

use http::{HeaderMap, Response, request::Parts};
use http_body_util::BodyExt;

use super::{
    SpanSink, body,
    decorator::Operation,
    span::{self, ActiveSpan, SpanEnd, SpanStart},
};
use crate::{
    config::{HttpConnectionManager, Snapshot, TrafficDirection},
    http::{Downstream, ProxyBody},
};

/// Starts the span of the request in `parts` when `manager` traces, writing the upstream's
/// `traceparent`. The listener's `traffic_direction` says whether it is an egress span. The
/// [`Operation`] is there whenever the manager traces, the span only when it is sampled.
pub fn start_request(
    sink: &SpanSink,
    manager: Option<&HttpConnectionManager>,
    snapshot: &Snapshot,
    downstream: &Downstream,
    authority: &str,
    parts: &mut Parts,
) -> Option<(Option<ActiveSpan>, Operation)> {
    let config = manager?.tracing.as_ref()?;
    let egress = snapshot
        .listeners
        .get(&downstream.listener)
        .is_some_and(|l| l.traffic_direction == TrafficDirection::Outbound);
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let start = SpanStart {
        egress,
        host: authority,
        method: &parts.method,
        path,
        version: parts.version,
        peer: downstream.peer,
    };
    let span = span::start(sink, config, &start, &mut parts.headers);
    Some((span, Operation::arrive(egress, &mut parts.headers)))
}

/// The response's part in the span's name (see [`Operation::respond`]), applied to the span.
pub fn name_span(
    span: Option<&mut ActiveSpan>,
    operation: &mut Operation,
    headers: &mut HeaderMap,
) {
    operation.respond(headers);
    if let (Some(span), Some(name)) = (span, operation.span_name()) {
        span.set_name(name);
    }
}

/// The response whose end finishes the span with `end`; `received` counts the request body.
pub fn finish_with(
    response: Response<ProxyBody>,
    traced: Option<(ActiveSpan, SpanEnd, Arc<AtomicU64>)>,
) -> Response<ProxyBody> {
    match traced {
        Some((span, end, received)) => {
            response.map(|inner| body::traced(inner, span, end, received).boxed_unsync())
        }
        None => response,
    }
}
