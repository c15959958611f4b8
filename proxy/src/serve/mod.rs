//! The listeners: every listener of the snapshot that binds gets a socket and an accept loop,
//! rebound as the snapshot changes; each connection finds its original destination, the
//! listener and filter chain that take it, TLS termination when the chain has a
//! `DownstreamTlsContext`, and is handed to the HTTP connection manager or the TCP proxy.
//!
//! A configuration change never drops an established connection: a removed listener stops
//! accepting, its open connections run to their end, and a changed listener applies to new
//! connections only, as each connection reads the snapshot once when it is accepted.

mod bind;
mod chain;
mod dispatch;
mod handoff;
mod plane;
mod tls;
mod tracker;

use std::{
    collections::HashMap,
    fmt,
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use tokio::{
    io::{AsyncRead, AsyncWrite},
    sync::watch,
};

use crate::{
    capture::OriginalDst,
    config::{ConfigStore, HttpConnectionManager, ListenerConfig, Snapshot, TrafficDirection},
    http::HttpContext,
};

pub use self::{
    chain::{ChainInput, needs_inspection, select_chain},
    handoff::{capture_listener, handoff_listener},
    plane::DataPlane,
};

/// How the data plane binds and reads original destinations.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// How captured connections' original destinations are read (tests use Fixed).
    pub original_dst: OriginalDst,
    /// Replaces unspecified listener addresses (0.0.0.0 / ::) when binding, so that several
    /// proxies can share one host in the local mesh and tests can bind to loopback.
    pub bind_ip: Option<IpAddr>,
    /// Replaces listener ports when binding (listener name → port; 0 = ephemeral), for tests.
    pub port_overrides: HashMap<String, u16>,
}

/// What serve_tunnel needs; DataPlane holds one.
pub struct DataPlaneContext {
    store: Arc<ConfigStore>,
    http: Arc<HttpContext>,
    shutdown: watch::Receiver<bool>,
    /// Turns true when the `INBOUND` listeners drain: with every listener, or on their own
    /// (`/drain_listeners?inboundonly`).
    inbound_shutdown: watch::Receiver<bool>,
    options: ServeOptions,
}

// === impl DataPlaneContext ===

impl DataPlaneContext {
    /// A context for tunnels served outside a [`DataPlane`]: HTTP connections inside them close
    /// gracefully when `shutdown` turns true.
    pub fn new(
        store: Arc<ConfigStore>,
        http: Arc<HttpContext>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        Self::with_options(
            store,
            http,
            shutdown.clone(),
            shutdown,
            ServeOptions::default(),
        )
    }

    fn with_options(
        store: Arc<ConfigStore>,
        http: Arc<HttpContext>,
        shutdown: watch::Receiver<bool>,
        inbound_shutdown: watch::Receiver<bool>,
        options: ServeOptions,
    ) -> Self {
        Self {
            store,
            http,
            shutdown,
            inbound_shutdown,
            options,
        }
    }

    /// What tells the HTTP connections of `listener` to finish: the inbound drain for an
    /// `INBOUND` listener, the drain of every listener otherwise.
    fn shutdown_of(&self, listener: &ListenerConfig) -> watch::Receiver<bool> {
        match listener.traffic_direction {
            TrafficDirection::Inbound => self.inbound_shutdown.clone(),
            TrafficDirection::Outbound | TrafficDirection::Unspecified => self.shutdown.clone(),
        }
    }
}

impl fmt::Debug for DataPlaneContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataPlaneContext")
            .field("shutdown", &*self.shutdown.borrow())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Explicit proxy mode: the HTTP connection manager of the filter chain that a captured
/// connection to `port` would get (the non-binding listener for that port, as Istio's
/// `0.0.0.0_<port>` listeners), or None.
pub fn explicit_http_manager(snapshot: &Snapshot, port: u16) -> Option<Arc<HttpConnectionManager>> {
    handoff::explicit_http_manager(snapshot, port)
}

/// Treats an established CONNECT tunnel to `target` like a connection captured for that
/// original destination (filter-chain selection, detection, HTTP or TCP).
///
/// The listener is the non-binding one for `target`, else the capture listener's own chains
/// (see [`capture_listener`]); with neither, the tunnel is closed.
pub async fn serve_tunnel<I>(
    io: I,
    target: SocketAddr,
    peer: SocketAddr,
    ctx: Arc<DataPlaneContext>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let snapshot = ctx.store.load();
    let Some(listener) = handoff_listener(&snapshot, target)
        .or_else(|| capture_listener(&snapshot))
        .cloned()
    else {
        tracing::debug!(%target, %peer, "no listener for a tunnel; closing it");
        return;
    };
    let connection = dispatch::Target {
        peer,
        local: target,
        destination: target,
    };
    dispatch::serve_on(&ctx, io, connection, &listener, &snapshot).await;
}
