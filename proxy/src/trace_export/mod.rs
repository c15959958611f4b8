//! Tracing spans exported over OTLP: what a connection manager's `tracing` with Envoy's
//! OpenTelemetry provider asks for.
//!
//! The request path only starts a span ([`span::start`], which also writes the `traceparent`
//! sent upstream) and, when the response ends, pushes the finished span into a bounded queue
//! ([`SpanSink`]); a full queue drops the span and counts it, so tracing never slows a request.
//! A background task ([`exporter`]) batches the queue and sends `ExportTraceServiceRequest`s
//! over gRPC to the collector cluster, through the proxy's own load balancer and HTTP/2 pools.

pub mod body;
pub mod config;
pub mod context;
pub mod decorator;
pub mod exporter;
pub mod request;
pub mod sampling;
mod send;
pub mod span;

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::sync::mpsc;

pub use self::{
    config::{CustomTag, OtlpService, TagValue, TracingConfig},
    decorator::Operation,
    exporter::{ExportOptions, SpanExporter},
    span::{ActiveSpan, SpanEnd, SpanStart},
};

/// A finished span and where it goes.
#[derive(Debug)]
pub(crate) struct Queued {
    pub(crate) service: Arc<OtlpService>,
    pub(crate) span: Span,
}

/// The node tags Envoy adds to every span.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeTags {
    /// `node_id`: the bootstrap's `node.id`.
    pub id: String,
    /// `zone`: the bootstrap's `node.locality.zone`.
    pub zone: String,
}

/// What happened to spans, for `mesh_proxy_tracing_spans_total{outcome}`.
#[derive(Debug, Default)]
pub struct SpanCounts {
    exported: AtomicU64,
    queue_full: AtomicU64,
    export_failed: AtomicU64,
}

/// Where the request path puts finished spans. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SpanSink {
    queue: Option<mpsc::Sender<Queued>>,
    counts: Arc<SpanCounts>,
    node: Arc<NodeTags>,
}

// === impl SpanCounts ===

impl SpanCounts {
    /// Spans the collector accepted.
    pub fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    /// Spans dropped because the queue was full (or no exporter runs).
    pub fn queue_full(&self) -> u64 {
        self.queue_full.load(Ordering::Relaxed)
    }

    /// Spans dropped because their export failed: no healthy endpoint, a connection error,
    /// a timeout or a gRPC error status.
    pub fn export_failed(&self) -> u64 {
        self.export_failed.load(Ordering::Relaxed)
    }

    pub(crate) fn add_exported(&self, n: usize) {
        self.exported.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_export_failed(&self, n: usize) {
        self.export_failed.fetch_add(n as u64, Ordering::Relaxed);
    }
}

// === impl SpanSink ===

impl SpanSink {
    /// A sink with no exporter behind it: every span is counted as dropped. What a proxy built
    /// without [`exporter::spawn`] has, so that a `tracing` config never vanishes silently.
    pub fn disabled() -> Self {
        Self {
            queue: None,
            counts: Arc::default(),
            node: Arc::default(),
        }
    }

    /// The counters, for the metrics.
    pub fn counts(&self) -> &Arc<SpanCounts> {
        &self.counts
    }

    /// Queues `span` for `service` without waiting; drops and counts it when the queue is full.
    pub(crate) fn push(&self, service: Arc<OtlpService>, span: Span) {
        let queued = self
            .queue
            .as_ref()
            .is_some_and(|queue| queue.try_send(Queued { service, span }).is_ok());
        if !queued {
            self.counts.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
