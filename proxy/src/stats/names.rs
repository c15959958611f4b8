//! Every metric name the proxy exports, and the histogram buckets.
//!
//! The `istio_*` names, their labels and buckets are Istio's, so that dashboards and alerts
//! written for Istio read ours unchanged. The proxy's own metrics are `mesh_proxy_*`.

/// HTTP and gRPC requests (counter).
pub const REQUESTS: &str = "istio_requests_total";
/// Request durations in milliseconds (histogram).
pub const REQUEST_DURATION: &str = "istio_request_duration_milliseconds";
/// Request body sizes in bytes (histogram).
pub const REQUEST_BYTES: &str = "istio_request_bytes";
/// Response body sizes in bytes (histogram).
pub const RESPONSE_BYTES: &str = "istio_response_bytes";
/// Bytes sent to the downstream of TCP connections (counter).
pub const TCP_SENT_BYTES: &str = "istio_tcp_sent_bytes_total";
/// Bytes received from the downstream of TCP connections (counter).
pub const TCP_RECEIVED_BYTES: &str = "istio_tcp_received_bytes_total";
/// TCP connections opened (counter).
pub const TCP_OPENED: &str = "istio_tcp_connections_opened_total";
/// TCP connections closed (counter).
pub const TCP_CLOSED: &str = "istio_tcp_connections_closed_total";

/// Downstream connections open now, by `listener` (gauge).
pub const DOWNSTREAM_ACTIVE: &str = "mesh_proxy_downstream_connections_active";
/// Downstream connections accepted, by `listener` (counter).
pub const DOWNSTREAM_TOTAL: &str = "mesh_proxy_downstream_connections_total";
/// Downstream TLS handshakes that failed, by `listener` (counter).
pub const DOWNSTREAM_TLS_HANDSHAKE_FAILURES: &str =
    "mesh_proxy_downstream_tls_handshake_failures_total";
/// Upstream connection pools (one per cluster, endpoint and protocol) the proxy holds (gauge).
pub const UPSTREAM_POOLS: &str = "mesh_proxy_upstream_pools";
/// Upstream connections open or being opened, by `cluster`, HTTP and TCP alike (gauge).
pub const UPSTREAM_ACTIVE: &str = "mesh_proxy_upstream_connections_active";
/// Upstream connections opened (connect attempts), by `cluster` (counter).
pub const UPSTREAM_TOTAL: &str = "mesh_proxy_upstream_connections_total";
/// Upstream connect attempts that failed or timed out, by `cluster` (counter).
pub const UPSTREAM_CONNECT_FAILURES: &str = "mesh_proxy_upstream_connect_failures_total";
/// Connections, requests and retries turned away by the cluster's circuit breaker (`UO`), by
/// `cluster` and `kind`, the threshold: `max_connections`, `max_pending_requests`,
/// `max_requests` or `max_retries` (counter).
pub const UPSTREAM_OVERFLOW: &str = "mesh_proxy_upstream_connections_overflow_total";
/// Shadow requests of request mirroring, by mirror `cluster` and `outcome`: `sent`, `failed`
/// or `dropped` (counter).
pub const SHADOW_REQUESTS: &str = "mesh_proxy_shadow_requests_total";
/// Tracing spans by `outcome`: `exported` (the collector accepted them), `queue_full` (dropped
/// on the request path because the export queue was full) or `export_failed` (dropped with a
/// batch the collector cluster did not take: no healthy endpoint, an error or a timeout)
/// (counter).
pub const TRACING_SPANS: &str = "mesh_proxy_tracing_spans_total";
/// Access log lines dropped because the writer fell behind (counter).
pub const ACCESS_LOG_DROPPED: &str = "mesh_proxy_access_log_dropped_total";
/// 1 while an ADS stream to the control plane is open (gauge).
pub const XDS_CONNECTED: &str = "mesh_proxy_xds_connected";
/// Per `type_url`, 1 when the last response of that type was refused (gauge).
pub const XDS_REJECTED: &str = "mesh_proxy_xds_rejected";
/// Per `type_url`, responses accepted: ACKs sent (counter).
pub const XDS_ACCEPTED_TOTAL: &str = "mesh_proxy_xds_updates_accepted_total";
/// Per `type_url`, responses refused: NACKs sent (counter).
pub const XDS_REJECTED_TOTAL: &str = "mesh_proxy_xds_updates_rejected_total";
/// Per `type_url`, the Unix time in seconds of the last NACK (gauge; absent before the first).
pub const XDS_LAST_REJECTION: &str = "mesh_proxy_xds_last_rejection_timestamp_seconds";
/// Per `type_url`, the resources applied (gauge).
pub const XDS_RESOURCES: &str = "mesh_proxy_xds_resources";
/// Always 1, labelled with the `type_url` and `version` of the configuration applied (gauge).
pub const CONFIG_VERSION: &str = "mesh_proxy_config_version_info";

/// Istio's default buckets of `istio_request_duration_milliseconds`.
pub const DURATION_BUCKETS: &[f64] = &[
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Istio's default buckets of `istio_request_bytes` and `istio_response_bytes`.
pub const BYTES_BUCKETS: &[f64] = &[
    1.0,
    10.0,
    100.0,
    1000.0,
    10000.0,
    100000.0,
    1000000.0,
    10000000.0,
    100000000.0,
    1000000000.0,
];
