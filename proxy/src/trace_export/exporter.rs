//! The background task that empties the span queue: a batch goes out when it is full or when
//! the flush timer fires (Envoy flushes every 5 s), one `ExportTraceServiceRequest` per
//! collector; at shutdown what is queued is flushed within a deadline.

use std::{sync::Arc, time::Duration};

use opentelemetry_proto::tonic::trace::v1::Span;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
};

use super::{NodeTags, OtlpService, Queued, SpanCounts, SpanSink, send};
use crate::{config::ConfigStore, upstream::Pools};

/// How the exporter batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// Spans the queue holds; past that, new spans are dropped and counted.
    pub capacity: usize,
    /// Spans per export at most; a full batch is sent without waiting for the timer.
    pub max_batch: usize,
    /// How often a partial batch is sent (Envoy's `tracing.opentelemetry.flush_interval_ms`).
    pub flush_interval: Duration,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            capacity: 2048,
            max_batch: 512,
            flush_interval: Duration::from_secs(5),
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
        let max_batch = self.options.max_batch.max(1);
        let mut batch = Vec::with_capacity(max_batch);
        let mut timer = tokio::time::interval(self.options.flush_interval);
        timer.tick().await;
        let grace = loop {
            let room = max_batch - batch.len();
            tokio::select! {
                changed = stopped.changed() => {
                    break if changed.is_ok() { *stopped.borrow() } else { None };
                }
                received = spans.recv_many(&mut batch, room) => {
                    if received == 0 {
                        break None;
                    }
                    if batch.len() >= max_batch {
                        self.flush(&mut batch).await;
                    }
                }
                _ = timer.tick() => self.flush(&mut batch).await,
            }
        };
        // Draining: what is queued now goes out, within the grace period.
        spans.close();
        while batch.len() < self.options.capacity + max_batch {
            match spans.try_recv() {
                Ok(span) => batch.push(span),
                Err(_) => break,
            }
        }
        let grace = grace.unwrap_or_default();
        let pending = batch.len();
        if tokio::time::timeout(grace, self.flush_all(&mut batch, max_batch))
            .await
            .is_err()
        {
            tracing::warn!(pending, "tracing spans not exported before shutdown");
        }
    }

    async fn flush_all(&self, batch: &mut Vec<Queued>, max_batch: usize) {
        while !batch.is_empty() {
            let rest = batch.split_off(batch.len().min(max_batch));
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
