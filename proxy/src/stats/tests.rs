use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Node;
use mesh_xds::resource::ResourceType;
use pretty_assertions::assert_eq;

use super::*;
use crate::{
    access_log::{AccessLog, AccessLogEntry},
    response_flags::{ResponseFlag, ResponseFlags},
    stats::{fixtures::metadata, observe::HttpEnd},
    upstream::Overflow,
    xds_client::{ErrorState, XdsState},
};

const PRODUCTPAGE_ID: &str =
    "sidecar~198.18.0.10~productpage-v1-6b7f.default~default.svc.cluster.local";

fn productpage() -> Node {
    Node {
        id: PRODUCTPAGE_ID.to_owned(),
        metadata: Some(metadata(
            &[
                ("WORKLOAD_NAME", "productpage-v1"),
                ("NAMESPACE", "default"),
            ],
            &[("app", "productpage"), ("version", "v1")],
        )),
        ..Node::default()
    }
}

fn reviews() -> Workload {
    Workload::from_metadata(&metadata(
        &[("WORKLOAD_NAME", "reviews-v2"), ("NAMESPACE", "default")],
        &[("app", "reviews"), ("version", "v2")],
    ))
}

fn reviews_service() -> Arc<DestinationService> {
    Arc::new(DestinationService {
        host: "reviews.default.svc.cluster.local".to_owned(),
        name: "reviews".to_owned(),
        namespace: "default".to_owned(),
    })
}

/// The labels of productpage (source) calling reviews (destination), as the source reports.
const OUTBOUND_LABELS: &str = "reporter=\"source\",source_workload=\"productpage-v1\",\
    source_workload_namespace=\"default\",source_principal=\"unknown\",source_app=\"productpage\",\
    source_version=\"v1\",source_canonical_service=\"productpage\",\
    source_canonical_revision=\"v1\",source_cluster=\"Kubernetes\",\
    destination_workload=\"reviews-v2\",destination_workload_namespace=\"default\",\
    destination_principal=\"unknown\",destination_app=\"reviews\",destination_version=\"v2\",\
    destination_canonical_service=\"reviews\",destination_canonical_revision=\"v2\",\
    destination_cluster=\"Kubernetes\",destination_service=\"reviews.default.svc.cluster.local\",\
    destination_service_name=\"reviews\",destination_service_namespace=\"default\",\
    request_protocol=\"http\",response_code=\"200\",grpc_response_status=\"\",\
    response_flags=\"-\",connection_security_policy=\"unknown\"";

fn has_line(rendered: &str, line: &str) {
    assert!(
        rendered.lines().any(|l| l == line),
        "{line}\nnot in\n{rendered}"
    );
}

#[test]
fn the_reporter_follows_the_listener_and_the_proxy_type() {
    let sidecar = Stats::new(&productpage());
    assert_eq!(sidecar.reporter("virtualInbound"), Reporter::Destination);
    assert_eq!(sidecar.reporter("virtualOutbound"), Reporter::Source);
    assert_eq!(sidecar.reporter("0.0.0.0_9080"), Reporter::Source);
    let gateway = Stats::new(&Node {
        id: "router~198.18.0.2~ingress.mesh-system~mesh-system.svc.cluster.local".to_owned(),
        ..Node::default()
    });
    assert_eq!(gateway.reporter("virtualInbound"), Reporter::Source);
    assert_eq!(Stats::anonymous().own(), &Workload::unknown());
    assert!(Stats::anonymous().peer_headers().is_none());
}

#[test]
fn peers_are_decoded_once_per_value_and_garbage_is_unknown() {
    let stats = Stats::anonymous();
    let ours = Stats::new(&productpage());
    let value = ours.peer_headers().unwrap().metadata().clone();
    let first = stats.peer(Some(&value));
    assert!(Arc::ptr_eq(&first, &stats.peer(Some(&value))));
    assert_eq!(first.workload, "productpage-v1");
    assert_eq!(first.canonical_service, "productpage");
    for garbage in ["%%%", "AAAA", ""] {
        let value = HeaderValue::from_static(garbage);
        assert_eq!(*stats.peer(Some(&value)), Workload::unknown(), "{garbage}");
    }
    assert_eq!(*stats.peer(None), Workload::unknown());
}

#[test]
fn a_request_renders_istios_series_with_every_label() {
    let (log, mut lines) = AccessLog::channel(4);
    let telemetry = Telemetry::new(log, Arc::new(Stats::new(&productpage())));
    let labels = Labels {
        reporter: Reporter::Source,
        peer: Arc::new(reviews()),
        service: reviews_service(),
        protocol: RequestProtocol::Http,
        response_code: Some(200),
        grpc_status: None,
        response_flags: None,
    };
    for _ in 0..3 {
        let entry = AccessLogEntry {
            method: Some("GET".to_owned()),
            ..AccessLogEntry::default()
        };
        telemetry.http(labels.clone(), Some(entry)).finish(HttpEnd {
            bytes_received: 0,
            bytes_sent: 120,
            duration: Duration::from_millis(7),
            ..HttpEnd::default()
        });
    }
    let rendered = telemetry.stats.render();
    has_line(
        &rendered,
        &format!("istio_requests_total{{{OUTBOUND_LABELS}}} 3"),
    );
    has_line(
        &rendered,
        &format!("istio_request_duration_milliseconds_count{{{OUTBOUND_LABELS}}} 3"),
    );
    has_line(
        &rendered,
        &format!("istio_request_duration_milliseconds_bucket{{{OUTBOUND_LABELS},le=\"5\"}} 0"),
    );
    has_line(
        &rendered,
        &format!("istio_request_duration_milliseconds_bucket{{{OUTBOUND_LABELS},le=\"10\"}} 3"),
    );
    has_line(
        &rendered,
        &format!("istio_response_bytes_bucket{{{OUTBOUND_LABELS},le=\"1000\"}} 3"),
    );
    has_line(
        &rendered,
        &format!("istio_response_bytes_sum{{{OUTBOUND_LABELS}}} 360"),
    );
    has_line(
        &rendered,
        &format!("istio_request_bytes_bucket{{{OUTBOUND_LABELS},le=\"1\"}} 3"),
    );
    // One label set, registered once, however many requests share it.
    assert_eq!(telemetry.stats.http.len(), 1);
    let line: serde_json::Value = serde_json::from_str(&lines.try_recv().unwrap()).unwrap();
    assert_eq!(
        (&line["method"], &line["bytes_sent"], &line["duration"]),
        (
            &serde_json::json!("GET"),
            &serde_json::json!(120),
            &serde_json::json!(7)
        )
    );
}

#[test]
fn flags_and_grpc_status_are_labels_and_the_destination_reports_none() {
    let stats = Arc::new(Stats::new(&productpage()));
    let telemetry = Telemetry::new(AccessLog::channel(1).0, Arc::clone(&stats));
    let grpc = Labels {
        reporter: Reporter::Destination,
        peer: Arc::new(Workload::unknown()),
        service: stats.unknown_service(),
        protocol: RequestProtocol::Grpc,
        response_code: Some(200),
        grpc_status: None,
        response_flags: None,
    };
    let mut flags = ResponseFlags::default();
    flags.insert(ResponseFlag::DownstreamConnectionTermination);
    telemetry.http(grpc, None).finish(HttpEnd {
        flags,
        grpc_status: Some(14),
        ..HttpEnd::default()
    });
    let rendered = stats.render();
    let line = rendered
        .lines()
        .find(|l| l.starts_with("istio_requests_total{"))
        .unwrap();
    assert!(
        line.starts_with(
            "istio_requests_total{reporter=\"destination\",source_workload=\"unknown\","
        ),
        "{line}"
    );
    assert!(
        line.contains(",destination_workload=\"productpage-v1\","),
        "{line}"
    );
    assert!(
        line.ends_with(
            "request_protocol=\"grpc\",response_code=\"200\",grpc_response_status=\"14\",\
             response_flags=\"DC\",connection_security_policy=\"none\"} 1"
        ),
        "{line}"
    );
}

#[test]
fn listeners_count_open_and_accepted_connections() {
    let stats = Stats::anonymous();
    let first = stats.connection_opened("virtualInbound");
    let second = stats.connection_opened("virtualInbound");
    drop(first);
    let rendered = stats.render();
    has_line(
        &rendered,
        "mesh_proxy_downstream_connections_active{listener=\"virtualInbound\"} 1",
    );
    has_line(
        &rendered,
        "mesh_proxy_downstream_connections_total{listener=\"virtualInbound\"} 2",
    );
    drop(second);
    has_line(
        &stats.render(),
        "mesh_proxy_downstream_connections_active{listener=\"virtualInbound\"} 0",
    );
}

#[test]
fn the_exporter_reads_the_rest_of_the_proxy_at_scrape_time() {
    let (log, _lines) = AccessLog::channel(1);
    log.write(&AccessLogEntry::default());
    log.write(&AccessLogEntry::default());
    let xds = Arc::new(XdsState::default());
    xds.set_connected(true);
    xds.accepted(ResourceType::Cluster, "v7", &[], &[]);
    xds.accepted(ResourceType::Cluster, "v8", &[], &[]);
    xds.refused(
        ResourceType::Listener,
        refusal("listener x: bad", 1_700_000_000_250),
    );
    let stats = Arc::new(Stats::anonymous());
    let reviews = stats
        .upstream_connections()
        .cluster("outbound|9080||reviews");
    let _open = reviews.open("198.18.0.7:9080".parse().unwrap());
    reviews
        .open("198.18.0.8:9080".parse().unwrap())
        .connect_failed();
    reviews.overflowed(Overflow::MaxConnections);
    for _ in 0..2 {
        reviews.overflowed(Overflow::MaxRequests);
    }
    reviews.overflowed(Overflow::MaxPendingRequests);
    let exporter = Exporter::new(stats)
        .with_access_log(log)
        .with_pools(|| 3)
        .with_xds(xds);
    let cds = ResourceType::Cluster.type_url();
    let lds = ResourceType::Listener.type_url();
    let cluster = "cluster=\"outbound|9080||reviews\"";
    assert_eq!(
        exporter.render(),
        format!(
            "# TYPE mesh_proxy_access_log_dropped_total counter\n\
             mesh_proxy_access_log_dropped_total 1\n\n\
             # TYPE mesh_proxy_upstream_pools gauge\n\
             mesh_proxy_upstream_pools 3\n\n\
             # TYPE mesh_proxy_upstream_connections_active gauge\n\
             mesh_proxy_upstream_connections_active{{{cluster}}} 1\n\n\
             # TYPE mesh_proxy_upstream_connections_total counter\n\
             mesh_proxy_upstream_connections_total{{{cluster}}} 2\n\n\
             # TYPE mesh_proxy_upstream_connect_failures_total counter\n\
             mesh_proxy_upstream_connect_failures_total{{{cluster}}} 1\n\n\
             # TYPE mesh_proxy_upstream_connections_overflow_total counter\n\
             mesh_proxy_upstream_connections_overflow_total{{{cluster},kind=\"max_connections\"}} 1\n\
             mesh_proxy_upstream_connections_overflow_total{{{cluster},kind=\"max_pending_requests\"}} 1\n\
             mesh_proxy_upstream_connections_overflow_total{{{cluster},kind=\"max_requests\"}} 2\n\
             mesh_proxy_upstream_connections_overflow_total{{{cluster},kind=\"max_retries\"}} 0\n\n\
             # TYPE mesh_proxy_xds_connected gauge\n\
             mesh_proxy_xds_connected 1\n\n\
             # TYPE mesh_proxy_xds_rejected gauge\n\
             mesh_proxy_xds_rejected{{type_url=\"{lds}\"}} 1\n\
             mesh_proxy_xds_rejected{{type_url=\"{cds}\"}} 0\n\n\
             # TYPE mesh_proxy_xds_updates_accepted_total counter\n\
             mesh_proxy_xds_updates_accepted_total{{type_url=\"{lds}\"}} 0\n\
             mesh_proxy_xds_updates_accepted_total{{type_url=\"{cds}\"}} 2\n\n\
             # TYPE mesh_proxy_xds_updates_rejected_total counter\n\
             mesh_proxy_xds_updates_rejected_total{{type_url=\"{lds}\"}} 1\n\
             mesh_proxy_xds_updates_rejected_total{{type_url=\"{cds}\"}} 0\n\n\
             # TYPE mesh_proxy_xds_last_rejection_timestamp_seconds gauge\n\
             mesh_proxy_xds_last_rejection_timestamp_seconds{{type_url=\"{lds}\"}} 1700000000.250\n\n\
             # TYPE mesh_proxy_xds_resources gauge\n\
             mesh_proxy_xds_resources{{type_url=\"{lds}\"}} 0\n\
             mesh_proxy_xds_resources{{type_url=\"{cds}\"}} 0\n\n\
             # TYPE mesh_proxy_config_version_info gauge\n\
             mesh_proxy_config_version_info{{type_url=\"{cds}\",version=\"v8\"}} 1\n"
        )
    );
}

/// A refusal at `unix_ms` milliseconds after the epoch.
fn refusal(details: &str, unix_ms: u64) -> ErrorState {
    ErrorState {
        version: "bad".to_owned(),
        at: std::time::UNIX_EPOCH + Duration::from_millis(unix_ms),
        details: details.to_owned(),
        failed: None,
    }
}
