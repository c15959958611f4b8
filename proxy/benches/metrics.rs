//! Recording one request's standard metrics: what the request path pays with cached handles,
//! against what building the label set alone would cost per request, and the peer metadata
//! lookup with and without its cache.

use std::{hint::black_box, sync::Arc, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use envoy_types::pb::{
    envoy::config::core::v3::Node,
    google::protobuf::{Struct, Value, value::Kind},
};
use mesh_proxy::{
    access_log::AccessLog,
    stats::{
        DestinationService, Labels, Reporter, RequestProtocol, Stats, Telemetry, Workload,
        observe::HttpEnd, peer,
    },
};

fn text(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    }
}

fn metadata(workload: &str, app: &str, version: &str) -> Struct {
    let labels = Struct {
        fields: [("app", app), ("version", version)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), text(v)))
            .collect(),
    };
    let mut fields: std::collections::HashMap<String, Value> =
        [("WORKLOAD_NAME", workload), ("NAMESPACE", "default")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), text(v)))
            .collect();
    fields.insert(
        "LABELS".to_owned(),
        Value {
            kind: Some(Kind::StructValue(labels)),
        },
    );
    Struct { fields }
}

fn record(c: &mut Criterion) {
    let node = Node {
        id: "sidecar~198.18.0.10~productpage-v1-6b7f.default~default.svc.cluster.local".to_owned(),
        metadata: Some(metadata("productpage-v1", "productpage", "v1")),
        ..Node::default()
    };
    let stats = Arc::new(Stats::new(&node));
    // The writer is never drained: the bench measures metrics, and passes no log line.
    let (log, _lines) = AccessLog::channel(1);
    let telemetry = Telemetry::new(log, Arc::clone(&stats));
    let labels = Labels {
        reporter: Reporter::Source,
        peer: Arc::new(Workload::from_metadata(&metadata(
            "reviews-v2",
            "reviews",
            "v2",
        ))),
        service: Arc::new(DestinationService {
            host: "reviews.default.svc.cluster.local".to_owned(),
            name: "reviews".to_owned(),
            namespace: "default".to_owned(),
        }),
        protocol: RequestProtocol::Http,
        response_code: Some(200),
        grpc_status: None,
        response_flags: None,
    };

    c.bench_function("metrics/record_request_cached", |b| {
        let mut recorded = 0u32;
        b.iter(|| {
            // Histogram samples wait in a queue until upkeep; the proxy runs it every few
            // seconds, the bench often enough to keep memory flat.
            recorded = recorded.wrapping_add(1);
            if recorded.is_multiple_of(4096) {
                stats.run_upkeep();
            }
            telemetry
                .http(black_box(labels.clone()), None)
                .finish(HttpEnd {
                    bytes_sent: 512,
                    duration: Duration::from_micros(1500),
                    ..HttpEnd::default()
                });
        });
    });
    c.bench_function("metrics/build_label_set", |b| {
        b.iter(|| black_box(labels.to_vec(stats.own())));
    });

    let header = peer::encode(&peer::exchanged(&metadata("reviews-v2", "reviews", "v2")));
    let value = http::HeaderValue::from_str(&header).expect("base64 is a header value");
    c.bench_function("metrics/peer_cached", |b| {
        b.iter(|| black_box(stats.peer(Some(black_box(&value)))));
    });
    c.bench_function("metrics/peer_decode", |b| {
        b.iter(|| {
            let decoded = peer::decode(black_box(value.as_bytes()));
            black_box(decoded.map(|m| Workload::from_metadata(&m)))
        });
    });
    stats.run_upkeep();
}

criterion_group!(benches, record);
criterion_main!(benches);
