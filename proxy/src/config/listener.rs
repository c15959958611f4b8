//! Envoy `Listener`s compiled into what the accept loop needs: where to bind, and which filter
//! chain handles a connection.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use crate::{
    route::{Clusters, RouteTable},
    tls::DownstreamTls,
};

/// A compiled `Listener`.
#[derive(Clone, Debug)]
pub struct ListenerConfig {
    /// The resource name.
    pub name: String,
    /// `address.socket_address`.
    pub address: SocketAddr,
    /// `use_original_dst`: a captured connection is dispatched by its original destination.
    pub use_original_dst: bool,
    /// The `original_dst` listener filter: filter chains match on the connection's original
    /// destination (as Istio's `virtualInbound` needs), without handing the connection to
    /// another listener.
    pub original_dst_filter: bool,
    /// `bind_to_port` (default true). A listener that does not bind only receives connections
    /// handed over from a `use_original_dst` listener whose address matches its own.
    pub bind_to_port: bool,
    /// `filter_chains`, in order.
    pub filter_chains: Vec<FilterChain>,
    /// `default_filter_chain`: used when no chain matches.
    pub default_filter_chain: Option<FilterChain>,
    /// Whether `listener_filters` inspect TLS (`tls_inspector`) and HTTP (`http_inspector`), so
    /// that chains can match on transport and application protocols.
    pub inspect_protocols: bool,
    /// `listener_filters_timeout` (Envoy's default 15 s); detection gives up and treats the
    /// connection as opaque TCP after it.
    pub detection_timeout: Duration,
    /// `traffic_direction`: which listeners the admin's `/drain_listeners?inboundonly` drains.
    pub traffic_direction: TrafficDirection,
}

/// A listener's `traffic_direction`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TrafficDirection {
    /// `UNSPECIFIED` (the default).
    #[default]
    Unspecified,
    /// `INBOUND`: traffic to the workload.
    Inbound,
    /// `OUTBOUND`: traffic from the workload.
    Outbound,
}

/// One `filter_chains` entry.
#[derive(Clone, Debug)]
pub struct FilterChain {
    /// The chain's name, for logs and `config_dump`.
    pub name: String,
    /// When the chain applies.
    pub matcher: FilterChainMatch,
    /// What handles the connection: the chain's terminal network filter.
    pub filter: NetworkFilter,
    /// `transport_socket` with a `DownstreamTlsContext`: TLS is terminated before `filter`
    /// sees the connection. `None` for plaintext (`raw_buffer`, the default).
    pub tls: Option<ChainTls>,
}

/// TLS termination of a filter chain.
#[derive(Clone, Debug)]
pub struct ChainTls {
    /// The server configuration: certificate, client-certificate checks, ALPN, versions.
    pub server: Arc<DownstreamTls>,
    /// `transport_socket_connect_timeout`: how long the handshake may take (none when unset,
    /// as in Envoy).
    pub handshake_timeout: Option<Duration>,
}

/// `filter_chain_match`: every set field must match; an empty matcher matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterChainMatch {
    /// `destination_port`.
    pub destination_port: Option<u16>,
    /// `prefix_ranges` on the (original) destination address.
    pub prefix_ranges: Vec<CidrRange>,
    /// `server_names` (TLS SNI), with `*.` wildcards.
    pub server_names: Vec<String>,
    /// `transport_protocol`: `raw_buffer` or `tls`.
    pub transport_protocol: Option<String>,
    /// `application_protocols`, e.g. `http/1.1`, `h2c`, `istio-http/1.1`.
    pub application_protocols: Vec<String>,
}

/// An address prefix, as in `prefix_ranges`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CidrRange {
    /// The network address.
    pub address: std::net::IpAddr,
    /// The prefix length in bits.
    pub prefix_len: u8,
}

/// The terminal network filter of a chain, with what the filters before it change (see
/// [`TcpProxy::sni_cluster`]).
#[derive(Clone, Debug)]
pub enum NetworkFilter {
    /// `envoy.filters.network.http_connection_manager`.
    Http(Arc<HttpConnectionManager>),
    /// `envoy.filters.network.tcp_proxy`.
    Tcp(Arc<TcpProxy>),
}

/// A compiled `HttpConnectionManager`.
#[derive(Clone, Debug)]
pub struct HttpConnectionManager {
    /// `stat_prefix`.
    pub stat_prefix: String,
    /// `codec_type`: which HTTP versions the connection manager speaks.
    pub codec: Codec,
    /// Where the route table comes from.
    pub routes: RouteSource,
    /// Whether `access_log` asks for a log line per request.
    pub access_log: bool,
    /// `generate_request_id` (default true): add `x-request-id` when absent.
    pub generate_request_id: bool,
    /// `use_remote_address`: the proxy is the edge (a gateway), so it appends the client's
    /// address to `x-forwarded-for`.
    pub use_remote_address: bool,
    /// `stream_idle_timeout` (Envoy's default 5 min; `None` when `0s` disables it): a stream
    /// with no frame in either direction for that long is answered 408/504 `SI`, or reset.
    pub stream_idle_timeout: Option<Duration>,
    /// The fault filter's own config, when `http_filters` holds it; routes may replace it.
    pub fault: Option<Arc<crate::route::Fault>>,
    /// Whether `http_filters` holds the CORS filter (after the fault filter): the routes' and
    /// virtual hosts' CORS policies apply only then.
    pub cors: bool,
    /// `tracing` with an OpenTelemetry provider: each request gets a span exported over OTLP.
    pub tracing: Option<Arc<crate::trace_export::TracingConfig>>,
    /// `http2_protocol_options.max_concurrent_streams`, sent as `SETTINGS_MAX_CONCURRENT_STREAMS`
    /// to HTTP/2 clients; `None` keeps the HTTP/2 server's own limit.
    pub http2_max_concurrent_streams: Option<u32>,
    /// `forward_client_cert_details` and `set_current_client_cert_details`.
    pub client_cert: crate::http::ClientCertConfig,
}

/// `codec_type` of an `HttpConnectionManager`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Codec {
    /// `AUTO`: HTTP/1.x or HTTP/2 with prior knowledge, as the first bytes say.
    #[default]
    Auto,
    /// `HTTP1`: HTTP/1.x only; a connection opening with the HTTP/2 preface is closed.
    Http1,
    /// `HTTP2`: HTTP/2 with prior knowledge only; anything else fails the HTTP/2 handshake.
    Http2,
}

/// The `route_specifier` of an `HttpConnectionManager`.
#[derive(Clone, Debug)]
pub enum RouteSource {
    /// `route_config`, compiled with the listener.
    Inline(Arc<RouteTable>),
    /// `rds.route_config_name`: looked up in the snapshot per request, so that an RDS update
    /// applies without rebuilding the listener.
    Rds(String),
}

/// A compiled `TcpProxy`.
#[derive(Clone, Debug)]
pub struct TcpProxy {
    /// `stat_prefix`.
    pub stat_prefix: String,
    /// `cluster` or `weighted_clusters`.
    pub clusters: Clusters,
    /// An `envoy.filters.network.sni_cluster` filter comes before this one in the chain: a
    /// connection with an SNI goes to the cluster of that name instead of `clusters`.
    pub sni_cluster: bool,
    /// `idle_timeout` (Envoy's default 1 h; zero disables it).
    pub idle_timeout: Option<Duration>,
    /// Whether `access_log` asks for a log line per connection.
    pub access_log: bool,
    /// `max_downstream_connection_duration`, with its jitter; `None` when unset.
    pub max_duration: Option<MaxDuration>,
}

/// How long a TCP proxy connection may stay open before it is closed (`DT`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaxDuration {
    /// `max_downstream_connection_duration`.
    pub duration: Duration,
    /// `max_downstream_connection_duration_jitter_percentage`: up to this % of `duration`
    /// (0–100) is added at random, per connection.
    pub jitter_percent: f64,
}

// === impl MaxDuration ===

impl MaxDuration {
    /// The duration of one connection: `duration` plus `fraction` (0–1, drawn at random) of
    /// the jitter.
    pub fn with_jitter(&self, fraction: f64) -> Duration {
        let jitter = self
            .duration
            .mul_f64(self.jitter_percent / 100.0 * fraction.clamp(0.0, 1.0));
        self.duration.saturating_add(jitter)
    }
}
