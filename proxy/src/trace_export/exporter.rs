//! The background task that empties the span queue as Envoy's OpenTelemetry tracer does: what
//! is buffered goes out as soon as `min_flush_spans` spans wait (Envoy's runtime
//! `tracing.opentelemetry.min_flush_spans`, 5) and whenever the flush timer fires
//! (`tracing.opentelemetry.flush_interval_ms`, 5 s), one `ExportTraceServiceRequest` per
//! collector; at shutdown what is queued is flushed within a deadline.

use std::{sync::Arc, time::Duration};

use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use super::{NodeTags, OtlpService, Queued, SpanCounts, SpanSink, send};
use crate::{config::ConfigStore, upstream::Pools};

/// Spans per export when the queue is drained at shutdown: fewer, larger exports than
/// `min_flush_spans` gives, each well under gRPC's 4 MiB message limit.
const SHUTDOWN_BATCH: usize = 512;

/// How the exporter batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// Spans the queue holds; past that, new spans are dropped and counted.
    pub capacity: usize,
    /// Buffered spans that are sent at once, without waiting for the timer (Envoy's
    /// `tracing.opentelemetry.min_flush_spans`); also the most one export carries until
    /// shutdown.
    pub min_flush_spans: usize,
    /// How often what is buffered is sent (Envoy's `tracing.opentelemetry.flush_interval_ms`).
    pub flush_interval: Duration,
}

impl ExportOptions {
    /// Envoy's `tracing.opentelemetry.min_flush_spans` default.
    pub const MIN_FLUSH_SPANS: usize = 5;
    /// Envoy's `tracing.opentelemetry.flush_interval_ms` default.
    pub const FLUSH_INTERVAL: Duration = Duration::from_secs(5);
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            capacity: 2048,
            min_flush_spans: Self::MIN_FLUSH_SPANS,
            flush_interval: Self::FLUSH_INTERVAL,
        }
    }
}

/// The running exporter; [`shutdown`](Self::shutdown) flushes and stops it.
#[derive(Debug)]
pub struct SpanExporter {
    stop: watch::Sender<Option<Duration>>,
    task: JoinHandle<()>,
}

/// Starts the exporter: spans pushed into the returned sink are sent to their collector
/// cluster, picked from `store`'s snapshot and reached through `pools`.
pub fn spawn(
    store: Arc<ConfigStore>,
    pools: Pools,
    node: NodeTags,
    options: ExportOptions,
) -> (SpanSink, SpanExporter) {
    let (queue, spans) = mpsc::channel(options.capacity.max(1));
    let counts = Arc::new(SpanCounts::default());
    let (stop, stopped) = watch::channel(None);
    let task = Exporter {
        store,
        pools,
        counts: Arc::clone(&counts),
        options,
    };
    let task = tokio::spawn(task.run(spans, stopped));
    let sink = SpanSink {
        queue: Some(queue),
        counts,
        node: Arc::new(node),
    };
    (sink, SpanExporter { stop, task })
}

// === impl SpanExporter ===

impl SpanExporter {
    /// Sends what is queued, waiting at most `grace`, then stops.
    pub async fn shutdown(self, grace: Duration) {
        let _ = self.stop.send(Some(grace));
        // The task bounds its own flush by `grace`; this bounds a task stuck elsewhere.
        let task = self.task;
        tokio::pin!(task);
        if tokio::time::timeout(grace + Duration::from_secs(1), task.as_mut())
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

struct Exporter {
    store: Arc<ConfigStore>,
    pools: Pools,
    counts: Arc<SpanCounts>,
    options: ExportOptions,
}

impl Exporter {
    async fn run(
        self,
        mut spans: mpsc::Receiver<Queued>,
        mut stopped: watch::Receiver<Option<Duration>>,
    ) {
        // Envoy flushes when the buffer reaches the minimum; the queue behind it is bounded, so
        // spans that finish while an export is under way wait there (or are dropped, counted).
        let flush_at = self.options.min_flush_spans.max(1);
        let mut batch = Vec::with_capacity(flush_at);
        let mut timer = tokio::time::interval(self.options.flush_interval);
        timer.tick().await;
        let grace = loop {
            let room = flush_at - batch.len();
            tokio::select! {
                changed = stopped.changed() => {
                    break if changed.is_ok() { *stopped.borrow() } else { None };
                }
                received = spans.recv_many(&mut batch, room) => {
                    if received == 0 {
                        break None;
                    }
                    if batch.len() >= flush_at {
                        self.flush(&mut batch).await;
                    }
                }
                _ = timer.tick() => self.flush(&mut batch).await,
            }
        };
        // Draining: what is queued now goes out, within the grace period.
        spans.close();
        while batch.len() < self.options.capacity + flush_at {
            match spans.try_recv() {
                Ok(span) => batch.push(span),
                Err(_) => break,
            }
        }
        let grace = grace.unwrap_or_default();
        let pending = batch.len();
        if tokio::time::timeout(grace, self.flush_all(&mut batch))
            .await
            .is_err()
        {
            tracing::warn!(pending, "tracing spans not exported before shutdown");
        }
    }

    async fn flush_all(&self, batch: &mut Vec<Queued>) {
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(SHUTDOWN_BATCH));
            self.flush(batch).await;
            *batch = rest;
        }
    }

    /// Sends `batch`, one request per collector, and empties it.
    async fn flush(&self, batch: &mut Vec<Queued>) {
        for (service, spans) in by_service(std::mem::take(batch)) {
            let count = spans.len();
            match send::export(&self.store, &self.pools, &service, spans).await {
                Ok(()) => self.counts.add_exported(count),
                Err(error) => {
                    self.counts.add_export_failed(count);
                    tracing::debug!(cluster = %service.cluster, %error, spans = count,
                        "dropped tracing spans");
                }
            }
        }
    }
}

/// Groups spans by collector, keeping their order.
fn by_service(batch: Vec<Queued>) -> Vec<(Arc<OtlpService>, Vec<Span>)> {
    let mut groups: Vec<(Arc<OtlpService>, Vec<Span>)> = Vec::new();
    for Queued { service, span } in batch {
        match groups
            .iter_mut()
            .find(|(s, _)| Arc::ptr_eq(s, &service) || **s == *service)
        {
            Some((_, spans)) => spans.push(span),
            None => groups.push((service, vec![span])),
        }
    }
    groups
}
