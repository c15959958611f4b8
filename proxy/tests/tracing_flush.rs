//! When spans leave the proxy, as Envoy's OpenTelemetry tracer sends them: as soon as
//! `min_flush_spans` (5) are buffered, in one export; fewer wait for the flush timer, or for
//! shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tracing_support;

use std::time::Duration;

use mesh_proxy::trace_export::ExportOptions;

use self::tracing_support::{Collector, Proxy, bootstrap, parse, tracing, upstream};

/// Envoy's minimum, and a timer that never fires during the test: only the count can flush.
const COUNT_ONLY: ExportOptions = ExportOptions {
    capacity: 2048,
    min_flush_spans: ExportOptions::MIN_FLUSH_SPANS,
    flush_interval: Duration::from_secs(3600),
};

/// Requests `/productpage?n=<i>` for each `i` of `numbers`, each answered 200.
async fn requests(proxy: &Proxy, numbers: std::ops::Range<usize>) {
    for i in numbers {
        let (status, _) = proxy.get(&format!("/productpage?n={i}"), &[]).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn the_fifth_buffered_span_sends_all_five_in_one_export() {
    let mut collector = Collector::start().await;
    let (backend, _seen) = upstream().await;
    let yaml = bootstrap("INBOUND", &tracing(100), backend, collector.address);
    let mut proxy = Proxy::start(parse(&yaml).unwrap(), COUNT_ONLY).await;

    // A span is queued before its response's last byte leaves, so four answered requests are
    // four buffered spans; had they gone out, the first export would hold fewer than five.
    requests(&proxy, 0..4).await;
    assert!(collector.nothing_more());
    requests(&proxy, 4..5).await;
    let (_, spans) = collector.next_spans().await;
    let paths: Vec<String> = spans
        .iter()
        .map(|span| {
            tracing_support::attributes(span)
                .into_iter()
                .find(|(key, _)| key == "http.url")
                .map(|(_, url)| url.rsplit('=').next().unwrap_or_default().to_owned())
                .unwrap()
        })
        .collect();
    assert_eq!(paths, ["0", "1", "2", "3", "4"]);

    // Four more stay buffered until shutdown flushes them, in one export.
    requests(&proxy, 5..9).await;
    assert!(collector.nothing_more());
    proxy.flush().await;
    let (_, spans) = collector.next_spans().await;
    assert_eq!(spans.len(), 4);
    assert!(collector.nothing_more());
    assert_eq!(proxy.spans.counts().exported(), 9);
    assert_eq!(proxy.spans.counts().queue_full(), 0);
}
