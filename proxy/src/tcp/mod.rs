//! The TCP proxy: a filter chain's `tcp_proxy` forwards a connection's bytes to one endpoint of
//! its cluster, both ways, until both sides close, the connection idles out, or it reaches its
//! `max_downstream_connection_duration` (`DT`). The cluster is the configured one or, after
//! an `sni_cluster` filter, the one the connection's SNI names ([`cluster_of`]); the metrics and
//! the access log (`%UPSTREAM_CLUSTER%`) report the cluster used.
//!
//! The endpoint is picked by [`select_endpoint`], as HTTP does, so both fail with the same
//! response flags. As in Envoy, each upstream connection takes one of the cluster's
//! `max_connections` slots (shared with HTTP/1.1 requests) or, when none is free, the
//! downstream connection is closed at once with `UO` and counted as an overflow. Upstream
//! connections are counted per cluster and endpoint (see
//! [`UpstreamConnections`](crate::upstream::UpstreamConnections)). Every connection ends in one
//! [`TcpLog`], which feeds both the metrics and the access log (see [`crate::stats::observe`]).
//! The cluster's TCP keep-alive is set on the upstream socket; when the system refuses it, the
//! connection fails as a connect failure (`UF`), as the HTTP pools' connections do. A cluster
//! with TLS wraps the upstream connection in it (offering its `alpn_protocols`), within the
//! connect timeout; a failed handshake is a connect failure (`UF`) too.

mod copy;
mod log;

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, SystemTime},
};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    time::Instant,
};

use crate::{
    balance::Outcome,
    config::{Snapshot, TcpProxy},
    response_flags::{ResponseFlag, ResponseFlags},
    stats::Telemetry,
    tls::Alpn,
    upstream::{UpstreamConnections, connect, select_endpoint},
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
    /// The SNI of a TLS connection, lower-cased: read from the ClientHello by the listener's
    /// inspection, or from the handshake of a chain that terminates TLS.
    pub server_name: Option<String>,
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
    let cluster = cluster_of(config, conn.server_name.as_deref(), rand::random()).to_owned();
    let service = snapshot.clusters.get(&cluster).map_or_else(
        || telemetry.stats.unknown_service(),
        |c| Arc::clone(&c.service),
    );
    let reporter = telemetry.stats.reporter(&conn.listener);
    let observation = telemetry.tcp_opened(reporter, service, config.access_log);
    let connections = telemetry.stats.upstream_connections();
    let log = connect_and_copy(downstream, config, snapshot, conn, cluster, connections).await;
    observation.finish(&log);
    log
}

async fn connect_and_copy<D>(
    mut downstream: D,
    config: &TcpProxy,
    snapshot: &Snapshot,
    conn: &TcpDownstream,
    cluster: String,
    connections: &UpstreamConnections,
) -> TcpLog
where
    D: AsyncRead + AsyncWrite + Unpin,
{
    let start_time = SystemTime::now();
    let started = Instant::now();
    let deadline = config
        .max_duration
        .map(|max| started + max.with_jitter(rand::random()));
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
    // Envoy checks the cluster's connection limit before it picks a host.
    let slot = match snapshot
        .clusters
        .get(&cluster)
        .map(|c| c.breaker.connection())
    {
        Some(Err(overflow)) => {
            tracing::debug!(%cluster, %overflow, "tcp proxy connection refused");
            connections.cluster(&cluster).overflowed(overflow);
            log.response_flags.insert(ResponseFlag::UpstreamOverflow);
            log.duration = started.elapsed();
            return log;
        }
        Some(Ok(slot)) => Some(slot),
        None => None,
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
    let open = connections.cluster(&cluster).open(selected.address);
    let keepalive = selected.cluster.connection.tcp_keepalive.as_ref();
    let tls = selected.cluster.tls.as_deref();
    let connecting = tokio::time::timeout(
        selected.cluster.connect_timeout,
        connect(selected.address, keepalive, tls, Alpn::Configured),
    );
    let connected = tokio::select! {
        connected = connecting => match connected {
            Ok(Ok(upstream)) => Ok(upstream),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_elapsed) => Err(format!(
                "timed out after {:?}",
                selected.cluster.connect_timeout
            )),
        },
        () = until(deadline) => {
            // The connection's time ran out before the upstream answered: not the endpoint's
            // fault, so the outlier detector is not told.
            drop(open);
            log.response_flags.insert(ResponseFlag::DurationTimeout);
            log.duration = started.elapsed();
            return log;
        }
    };
    selected.report(match &connected {
        Ok(_) => Outcome::Connected,
        Err(_) => Outcome::ConnectFailure,
    });
    let mut upstream = match connected {
        Ok(upstream) => upstream,
        Err(error) => {
            tracing::debug!(%cluster, upstream = %selected.address, %error, "upstream connect failed");
            open.connect_failed();
            log.response_flags
                .insert(ResponseFlag::UpstreamConnectionFailure);
            log.duration = started.elapsed();
            return log;
        }
    };
    let copied = copy_both_ways(
        &mut downstream,
        &mut upstream,
        config.idle_timeout,
        deadline,
    )
    .await;
    // Held until here: the endpoint counts the connection for least-request balancing, the
    // cluster's slot and connection counts until the upstream socket closes.
    drop(upstream);
    drop((selected, open, slot));
    if copied.end == CopyEnd::MaxDuration {
        log.response_flags.insert(ResponseFlag::DurationTimeout);
    }
    log.bytes_received = copied.received;
    log.bytes_sent = copied.sent;
    log.end = Some(copied.end);
    log.duration = started.elapsed();
    log
}

/// The cluster a connection goes to. After an `sni_cluster` filter, a connection with an SNI
/// goes to the cluster of that name, whatever `clusters` says (Envoy's `envoy.tcp_proxy.cluster`
/// filter state); otherwise one of `clusters`, picked with `random`. A cluster the proxy does
/// not know fails the connection later, with `NC`, as any unknown cluster does.
pub fn cluster_of<'a>(config: &'a TcpProxy, server_name: Option<&'a str>, random: u64) -> &'a str {
    match server_name {
        Some(sni) if config.sni_cluster && !sni.is_empty() => sni,
        _ => &config.clusters.pick(random).name,
    }
}

/// Resolves at `deadline`, or never.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
