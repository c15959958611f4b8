//! A connection manager's compiled `tracing`: when to sample, which tags to add, and where
//! the spans go.

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use mesh_common::path::FieldPath;

/// Envoy's default `max_path_tag_length`.
pub const DEFAULT_MAX_PATH_TAG_LENGTH: usize = 256;

/// How long one export may take when `grpc_service.timeout` is unset (Envoy waits forever; a
/// bound keeps the exporter from stalling behind a collector that never answers).
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// A compiled `HttpConnectionManager.tracing` with an OpenTelemetry provider.
#[derive(Clone, Debug, PartialEq)]
pub struct TracingConfig {
    /// `client_sampling` in percent (default 100): requests with `x-client-trace-id` traced.
    pub client_sampling: f64,
    /// `random_sampling` in percent (default 100): new traces started.
    pub random_sampling: f64,
    /// `overall_sampling` in percent (default 100): caps the two above.
    pub overall_sampling: f64,
    /// `max_path_tag_length` (default 256): the path in `http.url` is cut to this length.
    pub max_path_tag_length: usize,
    /// `custom_tags`, added to every span.
    pub custom_tags: Vec<CustomTag>,
    /// The OTLP collector of `provider`.
    pub service: std::sync::Arc<OtlpService>,
}

/// Where spans are exported: `OpenTelemetryConfig` with an `envoy_grpc` service.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpService {
    /// `grpc_service.envoy_grpc.cluster_name`.
    pub cluster: String,
    /// The field path of the cluster name in its listener, for the error when it is unknown.
    pub cluster_path: FieldPath,
    /// `grpc_service.envoy_grpc.authority` (default: the cluster name), the `:authority`.
    pub authority: String,
    /// `grpc_service.timeout`, or [`DEFAULT_EXPORT_TIMEOUT`].
    pub timeout: Duration,
    /// Whether `grpc_service.timeout` was set, so that `grpc-timeout` is sent.
    pub send_grpc_timeout: bool,
    /// `grpc_service.initial_metadata`, sent with every export.
    pub initial_metadata: Vec<(HeaderName, HeaderValue)>,
    /// The resource's attributes: `service.name` and the `telemetry.sdk.*` ones, as
    /// `service_name`, `set_service_name_resource_attribute` and
    /// `set_telemetry_sdk_resource_attributes` say.
    pub resource: Vec<(&'static str, String)>,
}

/// One `custom_tags` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomTag {
    /// The attribute's key.
    pub tag: String,
    /// Where its value comes from.
    pub value: TagValue,
}

/// The supported kinds of custom tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TagValue {
    /// `literal.value`.
    Literal(String),
    /// `request_header`: the header's value, else `default_value`; no tag when both are empty.
    RequestHeader {
        /// The header.
        name: HeaderName,
        /// `default_value`.
        default: String,
    },
}
