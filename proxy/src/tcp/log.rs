//! The access-log entry of one proxied TCP connection.

use std::{
    net::SocketAddr,
    time::{Duration, SystemTime},
};

use super::CopyEnd;
use crate::{
    access_log::{AccessLogEntry, rfc3339},
    response_flags::ResponseFlags,
    stats::observe::millis,
};

/// One TCP connection, as the access log records it (Envoy's command operators in the field
/// docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpLog {
    /// `%START_TIME%`.
    pub start_time: SystemTime,
    /// `%DURATION%`.
    pub duration: Duration,
    /// `%BYTES_RECEIVED%`: from the downstream.
    pub bytes_received: u64,
    /// `%BYTES_SENT%`: to the downstream.
    pub bytes_sent: u64,
    /// `%UPSTREAM_HOST%`, when an endpoint was picked.
    pub upstream_host: Option<SocketAddr>,
    /// `%UPSTREAM_CLUSTER%`.
    pub cluster: String,
    /// `%RESPONSE_FLAGS%`.
    pub response_flags: ResponseFlags,
    /// How the byte copy ended; `None` when no upstream connection was made.
    pub end: Option<CopyEnd>,
    /// `%DOWNSTREAM_REMOTE_ADDRESS%`.
    pub downstream_peer: SocketAddr,
    /// `%DOWNSTREAM_LOCAL_ADDRESS%`.
    pub downstream_local: SocketAddr,
    /// The listener that accepted the connection.
    pub listener: String,
    /// The `tcp_proxy`'s `stat_prefix`.
    pub stat_prefix: String,
}

// === impl TcpLog ===

impl TcpLog {
    /// The connection's access log line: the same shape as an HTTP request's, with the
    /// HTTP-only fields null.
    pub fn entry(&self) -> AccessLogEntry {
        AccessLogEntry {
            start_time: rfc3339(self.start_time),
            response_flags: self.response_flags.to_string(),
            bytes_received: self.bytes_received,
            bytes_sent: self.bytes_sent,
            duration: millis(self.duration),
            upstream_host: self.upstream_host.map(|host| host.to_string()),
            upstream_cluster: Some(self.cluster.clone()),
            downstream_remote_address: Some(self.downstream_peer.to_string()),
            downstream_local_address: Some(self.downstream_local.to_string()),
            ..AccessLogEntry::default()
        }
    }
}
