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
    /// `common_lb_config.healthy_panic_threshold` in whole percent, rounded as Envoy rounds it
    /// (Envoy's default 50 when unset); 0 turns panic mode off. See
    /// [`EndpointSet::pick_hashed`](crate::balance::EndpointSet::pick_hashed).
    pub panic_threshold: u32,
    /// How upstream connections are kept and retired.
    pub connection: ConnectionOptions,
    /// `transport_socket`: TLS to the endpoints, or `None` for plaintext.
    pub tls: Option<Arc<crate::tls::UpstreamTls>>,
}

/// How a cluster's upstream connections live: the `common_http_protocol_options` of its
/// `HttpProtocolOptions` (for HTTP pools) and its `upstream_connection_options` (for every
/// upstream socket, HTTP or TCP proxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectionOptions {
    /// `idle_timeout`: a pooled connection that carried no request for this long is closed.
    /// `None` (Envoy's `0s`) keeps idle connections; Envoy's default is 1 h.
    pub idle_timeout: Option<Duration>,
    /// `max_requests_per_connection`: a connection takes no request after this many (1 turns
    /// keep-alive off). `None` (unset or 0): no limit.
    pub max_requests_per_connection: Option<u32>,
    /// `max_connection_duration`: this long after it opened, a connection takes no new request
    /// and closes once its requests are done. `None`: no limit.
    pub max_connection_duration: Option<Duration>,
    /// `upstream_connection_options.tcp_keepalive`; `None` leaves `SO_KEEPALIVE` off.
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// HTTP/2 `max_concurrent_streams`: a connection carrying this many streams takes no more,
    /// the pool opens another. `None` (unset, or Envoy's 2147483647): no cap of its own.
    pub max_concurrent_streams: Option<u32>,
}

/// TCP keep-alive for upstream sockets: `SO_KEEPALIVE`, with the system's values for what is
/// unset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpKeepalive {
    /// `keepalive_probes` (`TCP_KEEPCNT`).
    pub probes: Option<u32>,
    /// `keepalive_time` (`TCP_KEEPIDLE`): idle time before the first probe.
    pub time: Option<Duration>,
    /// `keepalive_interval` (`TCP_KEEPINTVL`): time between probes.
    pub interval: Option<Duration>,
}

// === impl ConnectionOptions ===

impl ConnectionOptions {
    /// Envoy's upstream `idle_timeout` when none is set.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);
}

impl Default for ConnectionOptions {
    /// Envoy's defaults: idle connections close after an hour; no other limit, no keep-alive.
    fn default() -> Self {
        Self {
            idle_timeout: Some(Self::DEFAULT_IDLE_TIMEOUT),
            max_requests_per_connection: None,
            max_connection_duration: None,
            tcp_keepalive: None,
            max_concurrent_streams: None,
        }
    }
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
