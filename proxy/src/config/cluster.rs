//! Envoy `Cluster`s compiled into upstream settings: how endpoints are found, balanced and
//! spoken to.

use std::{sync::Arc, time::Duration};

use crate::balance::{Algorithm, EndpointSet};

/// A compiled `Cluster`.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The resource name.
    pub name: String,
    /// How the endpoints are discovered.
    pub discovery: Discovery,
    /// `lb_policy`.
    pub algorithm: Algorithm,
    /// `connect_timeout` (Envoy's default 5 s).
    pub connect_timeout: Duration,
    /// The protocol spoken to the endpoints.
    pub protocol: UpstreamProtocol,
    /// The service it sends to, for Istio's `destination_service*` metric labels.
    pub service: Arc<crate::stats::DestinationService>,
    /// `circuit_breakers`, and the live counts they bound.
    pub breaker: Arc<crate::upstream::CircuitBreaker>,
    /// `outlier_detection` and the per-endpoint state it keeps; `None` when unset (no endpoint
    /// is ever ejected).
    pub outlier: Option<Arc<crate::balance::OutlierDetector>>,
}

/// The cluster's `type` (or `cluster_type`).
#[derive(Clone, Debug)]
pub enum Discovery {
    /// `EDS`: endpoints come from the `ClusterLoadAssignment` named `service_name` (the cluster's
    /// name when `eds_cluster_config.service_name` is empty). The cluster is warming, and not
    /// usable, until that assignment arrived.
    Eds { service_name: String },
    /// `STATIC`: the inline `load_assignment`.
    Static(Arc<EndpointSet>),
    /// `STRICT_DNS`: every address each hostname of the `load_assignment` resolves to.
    StrictDns { hosts: Vec<(String, u16)> },
    /// `LOGICAL_DNS`: the first address the single hostname resolves to.
    LogicalDns { host: String, port: u16 },
    /// `ORIGINAL_DST`: connect to the connection's or request's original destination.
    OriginalDst,
}

/// How requests reach the endpoints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UpstreamProtocol {
    /// HTTP/1.1 (Envoy's default when no protocol options are set).
    #[default]
    Http1,
    /// HTTP/2 (`explicit_http_config.http2_protocol_options`, or the legacy
    /// `http2_protocol_options`).
    Http2,
    /// Whatever the downstream spoke (`use_downstream_protocol_config`).
    UseDownstream,
}
