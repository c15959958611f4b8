//! Access logs: one JSON line per HTTP request or TCP connection, in one shape, written off
//! the request path. Fields that only HTTP has are null on TCP lines.
//!
//! Requests hand finished lines to a bounded queue and never wait for the writer: when the
//! queue is full (stdout blocked, a burst) the line is dropped and counted, because a stalled
//! log must not stall traffic.

use std::{
    io::Write,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;
use tokio::sync::mpsc;

/// How many lines may wait for the writer.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Where access log lines go. Cheap to clone; clones share the queue and the drop count.
#[derive(Clone, Debug)]
pub struct AccessLog {
    lines: mpsc::Sender<String>,
    dropped: Arc<AtomicU64>,
}

/// One request's or connection's log line, in the field names of Istio's JSON access log
/// format.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AccessLogEntry {
    /// When the request or connection started, RFC 3339 in UTC with milliseconds.
    pub start_time: String,
    /// The request method (HTTP).
    pub method: Option<String>,
    /// The original path and query (HTTP).
    pub path: Option<String>,
    /// `HTTP/1.1` or `HTTP/2` (HTTP).
    pub protocol: Option<String>,
    /// The status sent downstream (HTTP).
    pub response_code: Option<u16>,
    /// Envoy's flags (`-` when none).
    pub response_flags: String,
    /// Bytes read from the client: the request body, or everything on a TCP connection.
    pub bytes_received: u64,
    /// Bytes sent to the client: the response body, or everything on a TCP connection.
    pub bytes_sent: u64,
    /// Milliseconds from the start to the end of the response, or of the connection.
    pub duration: u64,
    /// The endpoint the request went to, if any.
    pub upstream_host: Option<String>,
    /// The cluster the request went to, if any.
    pub upstream_cluster: Option<String>,
    /// `x-request-id`.
    pub x_request_id: Option<String>,
    /// `traceparent`.
    pub traceparent: Option<String>,
    /// `:authority` / `Host`.
    pub authority: Option<String>,
    /// `user-agent`.
    pub user_agent: Option<String>,
    /// The matched route's name, if it has one (HTTP).
    pub route_name: Option<String>,
    /// The client's address.
    pub downstream_remote_address: Option<String>,
    /// The address the client connected to (the original destination when captured).
    pub downstream_local_address: Option<String>,
}

// === impl AccessLog ===

impl AccessLog {
    /// A log written to the process's stdout by a dedicated thread, so that a slow terminal or
    /// pipe only ever blocks that thread.
    pub fn stdout(capacity: usize) -> Self {
        let (log, mut lines) = Self::channel(capacity);
        let spawned = std::thread::Builder::new()
            .name("access-log".to_owned())
            .spawn(move || {
                let stdout = std::io::stdout();
                while let Some(line) = lines.blocking_recv() {
                    let mut out = stdout.lock();
                    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                        // Stdout is gone; keep draining so senders see a full queue, not errors.
                        continue;
                    }
                }
            });
        if let Err(error) = spawned {
            tracing::warn!(%error, "cannot start the access log writer; access logs are dropped");
        }
        log
    }

    /// A log whose lines are received from the returned channel (tests, other sinks).
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<String>) {
        let (lines, receiver) = mpsc::channel(capacity.max(1));
        (
            Self {
                lines,
                dropped: Arc::new(AtomicU64::new(0)),
            },
            receiver,
        )
    }

    /// Queues `entry` as one JSON line, or drops it if the queue is full.
    pub fn write(&self, entry: &AccessLogEntry) {
        let line = match serde_json::to_string(entry) {
            Ok(line) => line,
            Err(_) => return,
        };
        if self.lines.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many lines were dropped because the writer fell behind or is gone.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// `time` as RFC 3339 in UTC with milliseconds, e.g. `2024-02-29T13:05:09.042Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rfc3339_formats_utc_with_milliseconds() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = UNIX_EPOCH + Duration::from_millis(1_709_211_909_042);
        assert_eq!(rfc3339(leap), "2024-02-29T13:05:09.042Z");
        let end_of_century = UNIX_EPOCH + Duration::from_secs(4_107_542_399);
        assert_eq!(rfc3339(end_of_century), "2100-02-28T23:59:59.000Z");
    }

    #[tokio::test]
    async fn lines_are_json_and_overflow_is_counted() {
        let (log, mut lines) = AccessLog::channel(1);
        let entry = AccessLogEntry {
            method: Some("GET".to_owned()),
            response_code: Some(200),
            response_flags: "-".to_owned(),
            x_request_id: Some("abc".to_owned()),
            ..AccessLogEntry::default()
        };
        log.write(&entry);
        log.write(&entry);
        assert_eq!(log.dropped(), 1);
        let line = lines.recv().await.expect("a line");
        let value: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(value["method"], "GET");
        assert_eq!(value["response_code"], 200);
        assert_eq!(value["response_flags"], "-");
        assert_eq!(value["x_request_id"], "abc");
        assert_eq!(value["route_name"], serde_json::Value::Null);
    }
}
