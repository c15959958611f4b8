//! The access-log entry of one proxied TCP connection.

use std::{
    net::SocketAddr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use super::CopyEnd;
use crate::response_flags::ResponseFlags;

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
    /// Writes the entry as one `tracing` event at info level with target `access_log`, one
    /// field per value, so that a subscriber can route and format it apart from diagnostics.
    pub fn emit(&self) {
        let start_time_ms = self.start_time.duration_since(UNIX_EPOCH).map_or(0, millis);
        let upstream_host = self
            .upstream_host
            .map_or_else(|| "-".to_owned(), |host| host.to_string());
        tracing::info!(
            target: "access_log",
            protocol = "tcp",
            start_time_ms,
            duration_ms = millis(self.duration),
            bytes_received = self.bytes_received,
            bytes_sent = self.bytes_sent,
            upstream_host = %upstream_host,
            upstream_cluster = %self.cluster,
            response_flags = %self.response_flags,
            downstream_remote_address = %self.downstream_peer,
            downstream_local_address = %self.downstream_local,
            listener = %self.listener,
            stat_prefix = %self.stat_prefix,
        );
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
