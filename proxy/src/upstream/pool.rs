//! Pooled HTTP clients to upstream endpoints: one client per cluster, endpoint address,
//! protocol and connect timeout, each keeping its idle connections for reuse. Pools are per
//! cluster, as Envoy's are, so that every connection counts towards one cluster.
//!
//! The connector always dials the client's endpoint whatever the request URI says, so the URI
//! can carry the request's real authority: HTTP/2 sends it as `:authority` and HTTP/1 as `Host`,
//! as the upstream expects, while connections are still pooled per endpoint. Each socket it
//! makes carries the guard that counts it (see [`UpstreamConnections`]), and the cluster's
//! TCP keep-alive.
//!
//! The cluster's [`ConnectionOptions`] shape the pool: idle connections close after
//! `idle_timeout`, and connections retire after `max_requests_per_connection` requests or
//! `max_connection_duration` (see `retire.rs`). An HTTP/2 pool with `max_concurrent_streams`
//! opens another connection when its connections carry that many streams (see `lanes.rs`). A
//! CDS update that changes them gets new clients.
//!
//! A cluster with TLS wraps each connection in it (see [`connect`]): connections are pooled per
//! endpoint as plain ones are, HTTP/2 pools offer ALPN `h2` unless `alpn_protocols` says
//! otherwise, and a handshake failure is a connect failure (`UF`, counted as one). Clients are
//! keyed by the TLS configuration's fingerprint, so that a CDS update that changes it (or the
//! content of a file it reads) gets new clients, and one that does not keeps the pooled
//! connections.

use std::{
    collections::HashMap,
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use foldhash::fast::RandomState;
use http::{Request, Response, Uri};
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::{
    client::legacy::{
        Client,
        connect::{Connected, Connection},
    },
    rt::{TokioExecutor, TokioIo, TokioTimer},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};

mod lanes;

pub use self::lanes::UpstreamResponseBody;

use self::lanes::Lanes;
use super::{
    connections::{ClusterConnections, OpenUpstream, UpstreamConnections},
    retire::{self, Lifetime},
    stream::{UpstreamStream, connect},
};
use crate::{
    config::{ClusterConfig, ConnectionOptions},
    tls::{Alpn, UpstreamTls},
};

/// Past this many clients the map starts over, so that endpoints that came and went do not
/// accumulate forever; live connections of dropped clients close when their requests end.
const MAX_CLIENTS: usize = 4096;

/// The error type of bodies sent upstream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a request sent upstream.
pub type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TokioIo<CountedStream>>> + Send>>;

/// A pooled client to one endpoint.
#[derive(Clone, Debug)]
pub struct UpstreamClient {
    client: Client<FixedConnector, UpstreamBody>,
    /// Whether its connections retire, so that requests must be counted on them.
    retires: bool,
    /// For an HTTP/2 pool with `max_concurrent_streams`: the capped connections, used instead
    /// of `client`.
    lanes: Option<Arc<Lanes>>,
}

/// The protocol a pool speaks to its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolProtocol {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 with prior knowledge (h2c, or h2 over the cluster's TLS).
    Http2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PoolKey {
    address: SocketAddr,
    protocol: PoolProtocol,
    connect_timeout: Duration,
    connection: ConnectionOptions,
    /// The fingerprint of the cluster's TLS, if it has any.
    tls: Option<u64>,
}

/// The clients by cluster name, then by key; looked up on every request, so hashed with
/// foldhash rather than SipHash (the keys come from the configuration, and are bounded).
type Clients = HashMap<String, HashMap<PoolKey, UpstreamClient, RandomState>, RandomState>;

/// Every upstream client of the process, by cluster name.
#[derive(Default)]
pub struct Pools {
    clients: ArcSwap<Clients>,
    connections: Arc<UpstreamConnections>,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pools")
            .field("clients", &self.len())
            .finish()
    }
}

/// Dials one address, giving up after a timeout, and counts what it dials for its cluster.
#[derive(Clone, Debug)]
pub struct FixedConnector {
    address: SocketAddr,
    timeout: Duration,
    counts: Arc<ClusterConnections>,
    connection: ConnectionOptions,
    tls: Option<Arc<UpstreamTls>>,
    alpn: Alpn,
}

/// An upstream socket that is counted as an open connection of its cluster until dropped.
#[derive(Debug)]
pub struct CountedStream {
    inner: UpstreamStream,
    _open: OpenUpstream,
    /// Its limits, when the cluster retires connections; dropped with the socket.
    lifetime: Option<Arc<Lifetime>>,
}

// === impl Pools ===

impl Pools {
    /// No clients yet; they are made on first use. Connections are counted in a registry of
    /// their own; see [`counted`](Self::counted) to share one.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pools whose connections are counted in `connections` (the proxy's, which the metrics
    /// and `/clusters` read, and the TCP proxy counts into too).
    pub fn counted(connections: Arc<UpstreamConnections>) -> Self {
        Self {
            clients: ArcSwap::default(),
            connections,
        }
    }

    /// The client of `cluster` for `address` speaking `protocol`, connecting within the
    /// cluster's `connect_timeout` and keeping connections as its [`ConnectionOptions`] say.
    pub fn client(
        &self,
        cluster: &ClusterConfig,
        address: SocketAddr,
        protocol: PoolProtocol,
    ) -> UpstreamClient {
        let key = PoolKey {
            address,
            protocol,
            connect_timeout: cluster.connect_timeout,
            connection: cluster.connection,
            tls: cluster.tls.as_ref().map(|tls| tls.fingerprint()),
        };
        let tls = cluster.tls.as_ref();
        let cluster = cluster.name.as_str();
        if let Some(client) = self.clients.load().get(cluster).and_then(|c| c.get(&key)) {
            return client.clone();
        }
        let mut made = None;
        self.clients.rcu(|current| {
            if current.get(cluster).is_some_and(|c| c.contains_key(&key)) {
                return Arc::clone(current);
            }
            let mut next = if count(current) >= MAX_CLIENTS {
                Clients::default()
            } else {
                Clients::clone(current)
            };
            let client = made
                .get_or_insert_with(|| self.build(cluster, key, tls))
                .clone();
            next.entry(cluster.to_owned())
                .or_default()
                .insert(key, client);
            Arc::new(next)
        });
        match self.clients.load().get(cluster).and_then(|c| c.get(&key)) {
            Some(client) => client.clone(),
            // Only reachable if another thread restarted the map in between; a client outside
            // the map still works, it is just not shared.
            None => made.unwrap_or_else(|| self.build(cluster, key, tls)),
        }
    }

    /// How many clients exist (for tests and admin output).
    pub fn len(&self) -> usize {
        count(&self.clients.load())
    }

    /// Whether no client exists yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn build(&self, cluster: &str, key: PoolKey, tls: Option<&Arc<UpstreamTls>>) -> UpstreamClient {
        build(key, tls.cloned(), self.connections.cluster(cluster))
    }
}

fn count(clients: &Clients) -> usize {
    clients.values().map(HashMap::len).sum()
}

fn build(
    key: PoolKey,
    tls: Option<Arc<UpstreamTls>>,
    counts: Arc<ClusterConnections>,
) -> UpstreamClient {
    let connector = FixedConnector {
        address: key.address,
        timeout: key.connect_timeout,
        counts,
        connection: key.connection,
        tls,
        alpn: match key.protocol {
            PoolProtocol::Http1 => Alpn::Configured,
            PoolProtocol::Http2 => Alpn::Http2,
        },
    };
    let new_client = move || {
        Client::builder(TokioExecutor::new())
            .pool_idle_timeout(key.connection.idle_timeout)
            .pool_timer(TokioTimer::new())
            .http2_only(key.protocol == PoolProtocol::Http2)
            .build(connector.clone())
    };
    let client = new_client();
    let lanes = match (key.protocol, key.connection.max_concurrent_streams) {
        (PoolProtocol::Http2, Some(cap)) => Some(Arc::new(Lanes::new(cap, new_client))),
        _ => None,
    };
    UpstreamClient {
        client,
        retires: retire::limits(&key.connection),
        lanes,
    }
}

// === impl UpstreamClient ===

impl UpstreamClient {
    /// Sends `request` on a pooled connection (a new one when none is free), and gives the
    /// response once its headers arrive.
    pub async fn request(
        &self,
        request: Request<UpstreamBody>,
    ) -> Result<Response<UpstreamResponseBody>, hyper_util::client::legacy::Error> {
        let slot = self.lanes.as_ref().map(|lanes| lanes.acquire());
        let client = slot.as_ref().map_or(&self.client, |slot| slot.client());
        let response = if self.retires {
            retire::send_counted(request, |request| client.request(request)).await
        } else {
            client.request(request).await
        };
        Ok(response?.map(|body| UpstreamResponseBody::new(body, slot)))
    }

    /// The lanes of a capped HTTP/2 pool (for tests).
    #[cfg(test)]
    fn lanes(&self) -> Option<&Lanes> {
        self.lanes.as_deref()
    }
}

// === impl FixedConnector ===

impl tower::Service<Uri> for FixedConnector {
    type Response = TokioIo<CountedStream>;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let (address, timeout, connection) = (self.address, self.timeout, self.connection);
        let (tls, alpn) = (self.tls.clone(), self.alpn);
        let open = self.counts.open(address);
        Box::pin(async move {
            let keepalive = connection.tcp_keepalive.as_ref();
            let connecting = connect(address, keepalive, tls.as_deref(), alpn);
            let connected = tokio::time::timeout(timeout, connecting)
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))
                .and_then(|connected| connected);
            // A refused socket option or a failed handshake is the connect failure it then is.
            let stream = match connected {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::debug!(upstream = %address, %error, "upstream connect failed");
                    open.connect_failed();
                    return Err(error);
                }
            };
            Ok(TokioIo::new(CountedStream {
                inner: stream,
                _open: open,
                lifetime: Lifetime::start(&connection),
            }))
        })
    }
}

// === impl CountedStream ===

impl CountedStream {
    /// `inner`, counted by `open` until dropped.
    pub fn new(inner: TcpStream, open: OpenUpstream) -> Self {
        Self {
            inner: inner.into(),
            _open: open,
            lifetime: None,
        }
    }
}

impl Connection for CountedStream {
    fn connected(&self) -> Connected {
        let connected = self.inner.connected();
        match &self.lifetime {
            Some(lifetime) => connected.extra(lifetime.link()),
            None => connected,
        }
    }
}

impl AsyncRead for CountedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
