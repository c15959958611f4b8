//! The proxy's metrics: Istio's standard metrics (`istio_requests_total` and the rest, with
//! Istio's names, labels and buckets) and the proxy's own `mesh_proxy_*`, rendered in the
//! Prometheus text format for the metrics port (15090) and the admin's `/stats/prometheus`.
//!
//! Each [`Stats`] owns its recorder instead of installing a global one, so that several proxies
//! can run in one process (tests do). Label sets are resolved once per distinct combination
//! and their handles cached ([`cache`]); a request then costs a lookup and a few atomic adds.
//! Requests and connections are observed once, in [`observe`], which feeds both the metrics and
//! the access log.

pub(crate) mod cache;
pub mod exporter;
#[cfg(test)]
mod fixtures;
pub mod labels;
pub mod names;
pub mod observe;
pub mod peer;
pub mod serve;
pub mod service;
pub mod shadow;
pub mod tls;
pub mod workload;

use std::{fmt, sync::Arc};

use envoy_types::pb::{envoy::config::core::v3::Node, google::protobuf::Struct};
use http::HeaderValue;
use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use self::cache::Cache;
pub use self::{
    exporter::Exporter,
    labels::{Labels, Reporter, RequestProtocol},
    observe::{HttpObservation, TcpObservation, Telemetry},
    peer::PeerHeaders,
    service::DestinationService,
    shadow::{ShadowHandles, ShadowOutcome},
    workload::Workload,
};
use crate::upstream::UpstreamConnections;

/// The name Istio gives the inbound capture listener; its traffic is reported by the
/// destination.
pub const INBOUND_LISTENER: &str = "virtualInbound";

static METADATA: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, None);

/// The metrics of one proxy.
pub struct Stats {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    own: Workload,
    gateway: bool,
    peer_headers: Option<PeerHeaders>,
    http: Cache<Labels, HttpHandles>,
    tcp: Cache<Labels, TcpHandles>,
    peers: Cache<HeaderValue, Workload>,
    listeners: Cache<String, ListenerHandles>,
    /// Shadow counters by mirror cluster.
    shadows: Cache<String, ShadowHandles>,
    unknown_service: Arc<DestinationService>,
    upstream: Arc<UpstreamConnections>,
}

/// The handles of one HTTP label set.
#[derive(Debug)]
pub struct HttpHandles {
    /// `istio_requests_total`.
    pub requests: Counter,
    /// `istio_request_duration_milliseconds`.
    pub duration: Histogram,
    /// `istio_request_bytes`.
    pub request_bytes: Histogram,
    /// `istio_response_bytes`.
    pub response_bytes: Histogram,
}

/// The handles of one TCP label set.
#[derive(Debug)]
pub struct TcpHandles {
    /// `istio_tcp_connections_opened_total`.
    pub opened: Counter,
    /// `istio_tcp_connections_closed_total`.
    pub closed: Counter,
    /// `istio_tcp_sent_bytes_total`.
    pub sent: Counter,
    /// `istio_tcp_received_bytes_total`.
    pub received: Counter,
}

/// The handles of one listener.
#[derive(Debug)]
struct ListenerHandles {
    active: Gauge,
    total: Counter,
}

/// Holds a listener's active-connection gauge up while the connection is open.
#[derive(Debug)]
pub struct OpenConnection(Arc<ListenerHandles>);

// === impl Stats ===

impl Stats {
    /// The metrics of the proxy identified by `node`: its own labels and exchange headers come
    /// from the node's id and metadata, once.
    pub fn new(node: &Node) -> Self {
        let metadata = node.metadata.clone().unwrap_or_default();
        Self::build(&node.id, &metadata)
    }

    /// Metrics for a proxy that does not know who it is (tests, tools): its own labels are
    /// `unknown` and it sends no exchange headers.
    pub fn anonymous() -> Self {
        let mut stats = Self::build("", &Struct::default());
        stats.own = Workload::unknown();
        stats
    }

    fn build(id: &str, metadata: &Struct) -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(names::REQUEST_DURATION.to_owned()),
                names::DURATION_BUCKETS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(names::REQUEST_BYTES.to_owned()),
                    names::BYTES_BUCKETS,
                )
            })
            .and_then(|b| {
                b.set_buckets_for_metric(
                    Matcher::Full(names::RESPONSE_BYTES.to_owned()),
                    names::BYTES_BUCKETS,
                )
            });
        // The bucket lists are non-empty constants, so this cannot fail; if it did, summaries
        // would still be a valid rendering.
        let recorder = builder
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        Self {
            handle: recorder.handle(),
            recorder,
            own: Workload::from_metadata(metadata),
            // Istio's node ids start with the proxy type: `router` for gateways.
            gateway: id.starts_with("router~"),
            peer_headers: (!id.is_empty())
                .then(|| PeerHeaders::new(id, metadata))
                .flatten(),
            http: Cache::default(),
            tcp: Cache::default(),
            peers: Cache::default(),
            listeners: Cache::default(),
            shadows: Cache::default(),
            unknown_service: Arc::new(DestinationService::unknown()),
            upstream: Arc::default(),
        }
    }

    /// Our own side of every label set.
    pub fn own(&self) -> &Workload {
        &self.own
    }

    /// Our exchange headers, if we have an identity to send.
    pub fn peer_headers(&self) -> Option<&PeerHeaders> {
        self.peer_headers.as_ref()
    }

    /// The service of requests that reached no cluster.
    pub fn unknown_service(&self) -> Arc<DestinationService> {
        Arc::clone(&self.unknown_service)
    }

    /// The upstream connections of every cluster, counted by the HTTP pools and the TCP proxy
    /// alike, for the `mesh_proxy_upstream_*` metrics and the admin's `/clusters`.
    pub fn upstream_connections(&self) -> &Arc<UpstreamConnections> {
        &self.upstream
    }

    /// Who reports traffic accepted by the listener named `listener`: the destination on the
    /// inbound capture listener of a sidecar, the source everywhere else.
    pub fn reporter(&self, listener: &str) -> Reporter {
        if !self.gateway && listener == INBOUND_LISTENER {
            Reporter::Destination
        } else {
            Reporter::Source
        }
    }

    /// The workload an `x-envoy-peer-metadata` value describes; unknown when it is absent or
    /// unreadable. Decoded once per distinct value.
    pub fn peer(&self, value: Option<&HeaderValue>) -> Arc<Workload> {
        let Some(value) = value else {
            return self
                .peers
                .get_or_insert(&HeaderValue::from_static(""), Workload::unknown);
        };
        self.peers.get_or_insert(value, || {
            peer::decode(value.as_bytes())
                .map_or_else(Workload::unknown, |m| Workload::from_metadata(&m))
        })
    }

    /// The handles of an HTTP label set.
    pub fn http(&self, labels: &Labels) -> Arc<HttpHandles> {
        self.http.get_or_insert(labels, || {
            let labels = labels.to_vec(&self.own);
            HttpHandles {
                requests: self.counter(names::REQUESTS, &labels),
                duration: self.histogram(names::REQUEST_DURATION, &labels),
                request_bytes: self.histogram(names::REQUEST_BYTES, &labels),
                response_bytes: self.histogram(names::RESPONSE_BYTES, &labels),
            }
        })
    }

    /// The handles of a TCP label set.
    pub fn tcp(&self, labels: &Labels) -> Arc<TcpHandles> {
        self.tcp.get_or_insert(labels, || {
            let labels = labels.to_vec(&self.own);
            TcpHandles {
                opened: self.counter(names::TCP_OPENED, &labels),
                closed: self.counter(names::TCP_CLOSED, &labels),
                sent: self.counter(names::TCP_SENT_BYTES, &labels),
                received: self.counter(names::TCP_RECEIVED_BYTES, &labels),
            }
        })
    }

    /// Counts a connection accepted by `listener`, open until the guard is dropped.
    pub fn connection_opened(&self, listener: &str) -> OpenConnection {
        let handles = self.listeners.get_or_insert(listener, || {
            let labels = [Label::new("listener", listener.to_owned())];
            ListenerHandles {
                active: self.gauge(names::DOWNSTREAM_ACTIVE, &labels),
                total: self.counter(names::DOWNSTREAM_TOTAL, &labels),
            }
        });
        handles.total.increment(1);
        handles.active.increment(1.0);
        OpenConnection(handles)
    }

    /// Drains the histograms' pending samples into their buckets. Rendering does it too; a
    /// proxy nobody scrapes must still run this now and then to bound its memory.
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text of everything recorded.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    fn counter(&self, name: &'static str, labels: &[Label]) -> Counter {
        let key = Key::from_parts(name, labels.to_vec());
        self.recorder.register_counter(&key, &METADATA)
    }

    fn gauge(&self, name: &'static str, labels: &[Label]) -> Gauge {
        let key = Key::from_parts(name, labels.to_vec());
        self.recorder.register_gauge(&key, &METADATA)
    }

    fn histogram(&self, name: &'static str, labels: &[Label]) -> Histogram {
        let key = Key::from_parts(name, labels.to_vec());
        self.recorder.register_histogram(&key, &METADATA)
    }
}

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stats")
            .field("own", &self.own)
            .field("gateway", &self.gateway)
            .field("http_label_sets", &self.http.len())
            .field("tcp_label_sets", &self.tcp.len())
            .finish_non_exhaustive()
    }
}

// === impl OpenConnection ===

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.active.decrement(1.0);
    }
}

#[cfg(test)]
mod tests;
