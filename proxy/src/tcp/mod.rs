//! The TCP proxy: a filter chain's `tcp_proxy` forwards a connection's bytes to one endpoint of
//! its cluster, both ways, until both sides close or the connection idles out.
//!
//! The endpoint is picked by [`select_endpoint`], as HTTP does, so both fail with the same
//! response flags. Every connection ends in one [`TcpLog`], which feeds both the metrics and
//! the access log (see [`crate::stats::observe`]).

mod copy;
mod log;

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
    time::Instant,
};

use crate::{
    balance::Outcome,
    config::{Snapshot, TcpProxy},
    response_flags::{ResponseFlag, ResponseFlags},
    stats::Telemetry,
    upstream::select_endpoint,
};

pub use self::{
    copy::{Copied, CopyEnd, copy_both_ways},
    log::TcpLog,
};

/// What the listener knows about a connection handed to the TCP proxy.
#[derive(Clone, Debug)]
pub struct TcpDownstream {
    /// The client's address.
    pub peer: SocketAddr,
    /// The address the client connected to (the original destination when captured).
    pub local: SocketAddr,
    /// The captured connection's original destination, for `ORIGINAL_DST` clusters.
    pub original_dst: Option<SocketAddr>,
    /// The listener's name.
    pub listener: String,
}

/// Proxies `downstream` as `config` says, with the clusters and endpoints of `snapshot`, until
/// both sides are closed; reports the connection to `telemetry` (metrics, and the access log
/// when `config` asks for it) and returns its log entry.
pub async fn proxy<D>(
    downstream: D,
    config: &TcpProxy,
    snapshot: &Snapshot,
    conn: &TcpDownstream,
    telemetry: &Telemetry,
) -> TcpLog
where
    D: AsyncRead + AsyncWrite + Unpin,
{
    let cluster = config.clusters.pick(rand::random()).name.clone();
    let service = snapshot.clusters.get(&cluster).map_or_else(
        || telemetry.stats.unknown_service(),
        |c| Arc::clone(&c.service),
    );
    let reporter = telemetry.stats.reporter(&conn.listener);
    let observation = telemetry.tcp_opened(reporter, service, config.access_log);
    let log = connect_and_copy(downstream, config, snapshot, conn, cluster).await;
    observation.finish(&log);
    log
}

async fn connect_and_copy<D>(
    mut downstream: D,
    config: &TcpProxy,
    snapshot: &Snapshot,
    conn: &TcpDownstream,
    cluster: String,
) -> TcpLog
where
    D: AsyncRead + AsyncWrite + Unpin,
{
    let start_time = SystemTime::now();
    let started = Instant::now();
    let mut log = TcpLog {
        start_time,
        duration: Duration::ZERO,
        bytes_received: 0,
        bytes_sent: 0,
        upstream_host: None,
        cluster: cluster.clone(),
        response_flags: ResponseFlags::default(),
        end: None,
        downstream_peer: conn.peer,
        downstream_local: conn.local,
        listener: conn.listener.clone(),
        stat_prefix: config.stat_prefix.clone(),
    };
    let selected = match select_endpoint(snapshot, &cluster, conn.original_dst, &mut rand::rng()) {
        Ok(selected) => selected,
        Err(error) => {
            tracing::debug!(%cluster, %error, "tcp proxy found no upstream");
            log.response_flags.insert(error.response_flag());
            log.duration = started.elapsed();
            return log;
        }
    };
    log.upstream_host = Some(selected.address);
    let connect = TcpStream::connect(selected.address);
    let connected = match tokio::time::timeout(selected.cluster.connect_timeout, connect).await {
        Ok(Ok(upstream)) => Ok(upstream),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_elapsed) => Err(format!(
            "timed out after {:?}",
            selected.cluster.connect_timeout
        )),
    };
    selected.report(match &connected {
        Ok(_) => Outcome::Connected,
        Err(_) => Outcome::ConnectFailure,
    });
    let mut upstream = match connected {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(%cluster, upstream = %selected.address, %error, "upstream connect failed");
            log.response_flags
                .insert(ResponseFlag::UpstreamConnectionFailure);
            log.duration = started.elapsed();
            return log;
        }
    };
    // Small writes of interactive protocols must not wait for Nagle's algorithm.
    let _ = upstream.set_nodelay(true);
    let copied = copy_both_ways(&mut downstream, &mut upstream, config.idle_timeout).await;
    // Held until here: the endpoint counts the connection for least-request balancing.
    drop(selected);
    log.bytes_received = copied.received;
    log.bytes_sent = copied.sent;
    log.end = Some(copied.end);
    log.duration = started.elapsed();
    log
}

#[cfg(test)]
mod tests;
