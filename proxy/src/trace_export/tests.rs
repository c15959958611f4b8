use std::{sync::Arc, time::Duration};

use mesh_common::path::FieldPath;
use opentelemetry_proto::tonic::trace::v1::Span;

use super::*;
use crate::config::{ConfigStore, Snapshot};

fn service(cluster: &str) -> Arc<OtlpService> {
    Arc::new(OtlpService {
        cluster: cluster.into(),
        cluster_path: FieldPath::root(),
        authority: cluster.into(),
        timeout: Duration::from_secs(1),
        send_grpc_timeout: false,
        initial_metadata: Vec::new(),
        resource: Vec::new(),
    })
}

#[tokio::test]
async fn a_full_queue_drops_and_counts() {
    let store = Arc::new(ConfigStore::new(Snapshot::default()));
    let options = ExportOptions {
        capacity: 2,
        min_flush_spans: 100,
        flush_interval: Duration::from_secs(3600),
    };
    let (sink, exporter) = exporter::spawn(
        store,
        crate::upstream::Pools::new(),
        NodeTags::default(),
        options,
    );
    // The exporter task cannot run between these pushes (single-threaded runtime, no await).
    for _ in 0..5 {
        sink.push(service("otel"), Span::default());
    }
    assert_eq!(sink.counts().queue_full(), 3);
    exporter.shutdown(Duration::from_secs(5)).await;
    // No cluster `otel`: the two queued spans fail at export.
    assert_eq!(sink.counts().export_failed(), 2);
    assert_eq!(sink.counts().exported(), 0);
}

#[test]
fn a_disabled_sink_counts_every_span_as_dropped() {
    let sink = SpanSink::disabled();
    sink.push(service("otel"), Span::default());
    assert_eq!(sink.counts().queue_full(), 1);
}

#[test]
fn spans_are_flushed_at_envoys_defaults() {
    assert_eq!(
        ExportOptions::default(),
        ExportOptions {
            capacity: 2048,
            min_flush_spans: 5,
            flush_interval: Duration::from_millis(5000),
        }
    );
}
