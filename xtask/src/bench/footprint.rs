//! Memory footprint: one proxy of each kind with 0, 1 000 (and 10 000) services configured —
//! a cluster and a virtual host each, as a sidecar of a mesh that size holds — measured idle,
//! under 1 000 rps, and holding 1 000 open client connections.

use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use super::{
    MAX_REQUESTS_PER_RUN,
    bootstrap::Hop,
    load::{self, LoadSpec, Mode, client::Protocol},
    procfs,
    topology::{Launcher, ProxyKind, free_port},
    upstream::BODY,
};

/// The rate of the loaded measurement.
pub const LOAD_RATE: u32 = 1_000;

/// Client connections held open for the last measurement.
pub const OPEN_CONNECTIONS: usize = 1_000;

/// How long one open connection may take to be answered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// What one proxy with one configuration size took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Footprint {
    /// Which proxy.
    pub proxy: ProxyKind,
    /// Services configured besides the route every request takes.
    pub services: usize,
    /// `VmRSS` once ready, before any traffic.
    pub rss_idle_kib: u64,
    /// `VmRSS` right after a run at [`LOAD_RATE`] over 16 connections.
    pub rss_loaded_kib: u64,
    /// `VmRSS` with [`OPEN_CONNECTIONS`] connections open, each having had one request.
    pub rss_connections_kib: u64,
    /// Requests of the loaded run that failed.
    pub errors: u64,
}

/// The configuration sizes a run measures.
pub fn sizes(quick: bool) -> &'static [usize] {
    if quick {
        &[0, 1_000]
    } else {
        &[0, 1_000, 10_000]
    }
}

/// Starts a `kind` proxy with `services` services in front of the HTTP upstream and measures
/// it; the proxy is stopped before this returns.
pub fn measure(
    launcher: &Launcher,
    runtime: &tokio::runtime::Runtime,
    upstream: SocketAddr,
    (kind, services): (ProxyKind, usize),
    run: Duration,
    base_id: u32,
) -> anyhow::Result<Footprint> {
    let hop = Hop {
        name: format!("footprint-{}-{services}", kind.slug()),
        listen: free_port()?,
        admin: free_port()?,
        next: upstream,
        protocol: Protocol::Http1,
        services,
    };
    let proxy = launcher.start(kind, hop, base_id)?;
    let rss = || procfs::read_memory(proxy.pid()).map(|memory| memory.rss_kib);
    let rss_idle_kib = rss()?;
    let load = LoadSpec {
        target: proxy.hop.listen,
        protocol: Protocol::Http1,
        mode: Mode::Open {
            rate: LOAD_RATE,
            connections: super::CONNECTIONS,
        },
        duration: run,
        max_requests: MAX_REQUESTS_PER_RUN,
    };
    let outcome = runtime.block_on(load::run(&load))?;
    let rss_loaded_kib = rss()?;
    let connections = open_connections(proxy.hop.listen, OPEN_CONNECTIONS)?;
    let rss_connections_kib = rss()?;
    drop(connections);
    Ok(Footprint {
        proxy: kind,
        services,
        rss_idle_kib,
        rss_loaded_kib,
        rss_connections_kib,
        errors: outcome.errors,
    })
}

/// Opens `count` connections to `listen`, each answered once (so the proxy holds the state of
/// a served connection, not only an accepted socket), and keeps them open.
fn open_connections(listen: SocketAddr, count: usize) -> anyhow::Result<Vec<TcpStream>> {
    (0..count)
        .map(|i| {
            one_answered(listen).with_context(|| format!("open connection {} of {count}", i + 1))
        })
        .collect()
}

fn one_answered(listen: SocketAddr) -> anyhow::Result<TcpStream> {
    let mut stream = TcpStream::connect_timeout(&listen, ANSWER_TIMEOUT)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.write_all(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")?;
    // The answer ends with the upstream's fixed body; it is small, so a few reads get it.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    while !answer.ends_with(BODY) {
        let read = stream.read(&mut buffer)?;
        if read == 0 || answer.len() > 64 * 1024 {
            bail!(
                "no whole answer: {:?}",
                String::from_utf8_lossy(&answer[..answer.len().min(200)])
            );
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    if !answer.starts_with(b"HTTP/1.1 200") {
        bail!(
            "answered {:?}",
            String::from_utf8_lossy(&answer[..answer.len().min(40)])
        );
    }
    Ok(stream)
}
