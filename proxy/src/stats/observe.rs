//! The one place a finished request or connection is reported: its metrics and its access log
//! line come from the same observation, so the two never disagree on flags, bytes or time.

use std::{sync::Arc, time::Duration};

use super::{DestinationService, Labels, Reporter, RequestProtocol, Stats, TcpHandles};
use crate::{
    access_log::{AccessLog, AccessLogEntry},
    response_flags::ResponseFlags,
    tcp::TcpLog,
};

/// Where finished requests and connections go. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Telemetry {
    /// The access log queue.
    pub access_log: AccessLog,
    /// The metrics.
    pub stats: Arc<Stats>,
}

/// One HTTP request, from its response headers to the end of its response body.
#[derive(Debug)]
pub struct HttpObservation {
    stats: Arc<Stats>,
    labels: Labels,
    log: Option<(AccessLog, AccessLogEntry)>,
}

/// How an HTTP request ended.
#[derive(Debug, Default)]
pub struct HttpEnd {
    /// The request's flags, `DC` included when the client left early.
    pub flags: ResponseFlags,
    /// Request body bytes read from the client.
    pub bytes_received: u64,
    /// Response body bytes sent to the client.
    pub bytes_sent: u64,
    /// From the start of the request to the end of the response.
    pub duration: Duration,
    /// `grpc-status` from the response trailers, if any.
    pub grpc_status: Option<u32>,
}

/// One TCP connection, from the moment its cluster is known to its close.
#[derive(Debug)]
pub struct TcpObservation {
    telemetry: Telemetry,
    labels: Labels,
    opened: Arc<TcpHandles>,
    access_log: bool,
}

// === impl Telemetry ===

impl Telemetry {
    /// Telemetry into `access_log` and `stats`.
    pub fn new(access_log: AccessLog, stats: Arc<Stats>) -> Self {
        Self { access_log, stats }
    }

    /// Starts observing an HTTP request whose response headers are known; `entry` is its
    /// access log line so far, when the connection manager logs.
    pub fn http(&self, labels: Labels, entry: Option<AccessLogEntry>) -> HttpObservation {
        HttpObservation {
            stats: Arc::clone(&self.stats),
            labels,
            log: entry.map(|entry| (self.access_log.clone(), entry)),
        }
    }

    /// Counts a TCP connection opened towards `service`; [`TcpObservation::finish`] counts its
    /// close and writes its log line when `access_log` is on.
    pub fn tcp_opened(
        &self,
        reporter: Reporter,
        service: Arc<DestinationService>,
        access_log: bool,
    ) -> TcpObservation {
        // Plaintext TCP carries no metadata exchange: the peer is unknown.
        let labels = Labels {
            reporter,
            peer: self.stats.peer(None),
            service,
            protocol: RequestProtocol::Tcp,
            response_code: None,
            grpc_status: None,
            response_flags: None,
        };
        let opened = self.stats.tcp(&labels);
        opened.opened.increment(1);
        TcpObservation {
            telemetry: self.clone(),
            labels,
            opened,
            access_log,
        }
    }
}

// === impl HttpObservation ===

impl HttpObservation {
    /// Records the request's metrics and writes its log line.
    pub fn finish(self, end: HttpEnd) {
        let mut labels = self.labels;
        if labels.protocol == RequestProtocol::Grpc {
            labels.grpc_status = labels.grpc_status.or(end.grpc_status);
        }
        // Printed only where it is read: most requests have no flag and no access log.
        if !end.flags.is_empty() {
            labels.response_flags = Some(end.flags.to_string().into());
        }
        let handles = self.stats.http(&labels);
        handles.requests.increment(1);
        handles.duration.record(end.duration.as_secs_f64() * 1000.0);
        handles.request_bytes.record(end.bytes_received as f64);
        handles.response_bytes.record(end.bytes_sent as f64);
        if let Some((log, entry)) = self.log {
            log.write(&AccessLogEntry {
                response_flags: end.flags.to_string(),
                bytes_received: end.bytes_received,
                bytes_sent: end.bytes_sent,
                duration: millis(end.duration),
                ..entry
            });
        }
    }
}

// === impl TcpObservation ===

impl TcpObservation {
    /// Records the close of the connection `log` describes, and writes its log line.
    pub fn finish(self, log: &TcpLog) {
        let handles = if log.response_flags.is_empty() {
            self.opened
        } else {
            let labels = Labels {
                response_flags: Some(log.response_flags.to_string().into()),
                ..self.labels
            };
            self.telemetry.stats.tcp(&labels)
        };
        handles.closed.increment(1);
        handles.sent.increment(log.bytes_sent);
        handles.received.increment(log.bytes_received);
        if self.access_log {
            self.telemetry.access_log.write(&log.entry());
        }
    }
}

/// Whole milliseconds, as the access log prints durations.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
