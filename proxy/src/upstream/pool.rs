//! Pooled HTTP clients to upstream endpoints: one client per endpoint address, protocol and
//! connect timeout, each keeping its idle connections for reuse.
//!
//! The connector always dials the client's endpoint whatever the request URI says, so the URI
//! can carry the request's real authority: HTTP/2 sends it as `:authority` and HTTP/1 as `Host`,
//! as the upstream expects, while connections are still pooled per endpoint.

use std::{
    collections::HashMap, future::Future, io, net::SocketAddr, pin::Pin, sync::Arc, time::Duration,
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::Uri;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_util::{
    client::legacy::Client,
    rt::{TokioExecutor, TokioIo, TokioTimer},
};
use tokio::net::TcpStream;

/// How long an unused upstream connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Past this many clients the map starts over, so that endpoints that came and went do not
/// accumulate forever; live connections of dropped clients close when their requests end.
const MAX_CLIENTS: usize = 4096;

/// The error type of bodies sent upstream.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a request sent upstream.
pub type UpstreamBody = UnsyncBoxBody<Bytes, BoxError>;

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TokioIo<TcpStream>>> + Send>>;

/// A pooled client to one endpoint.
pub type UpstreamClient = Client<FixedConnector, UpstreamBody>;

/// The protocol a pool speaks to its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolProtocol {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 with prior knowledge (h2c).
    Http2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PoolKey {
    address: SocketAddr,
    protocol: PoolProtocol,
    connect_timeout: Duration,
}

/// Every upstream client of the process.
#[derive(Default)]
pub struct Pools {
    clients: ArcSwap<HashMap<PoolKey, UpstreamClient>>,
}

impl std::fmt::Debug for Pools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pools")
            .field("clients", &self.clients.load().len())
            .finish()
    }
}

/// Dials one address, giving up after a timeout.
#[derive(Clone, Copy, Debug)]
pub struct FixedConnector {
    address: SocketAddr,
    timeout: Duration,
}

// === impl Pools ===

impl Pools {
    /// No clients yet; they are made on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client for `address` speaking `protocol`, connecting within `connect_timeout`.
    pub fn client(
        &self,
        address: SocketAddr,
        protocol: PoolProtocol,
        connect_timeout: Duration,
    ) -> UpstreamClient {
        let key = PoolKey {
            address,
            protocol,
            connect_timeout,
        };
        if let Some(client) = self.clients.load().get(&key) {
            return client.clone();
        }
        let mut made = None;
        self.clients.rcu(|current| {
            if current.contains_key(&key) {
                return Arc::clone(current);
            }
            let mut next = if current.len() >= MAX_CLIENTS {
                HashMap::new()
            } else {
                HashMap::clone(current)
            };
            let client = made.get_or_insert_with(|| build(key)).clone();
            next.insert(key, client);
            Arc::new(next)
        });
        match self.clients.load().get(&key) {
            Some(client) => client.clone(),
            // Only reachable if another thread restarted the map in between; a client outside
            // the map still works, it is just not shared.
            None => made.unwrap_or_else(|| build(key)),
        }
    }

    /// How many clients exist (for tests and admin output).
    pub fn len(&self) -> usize {
        self.clients.load().len()
    }

    /// Whether no client exists yet.
    pub fn is_empty(&self) -> bool {
        self.clients.load().is_empty()
    }
}

fn build(key: PoolKey) -> UpstreamClient {
    let connector = FixedConnector {
        address: key.address,
        timeout: key.connect_timeout,
    };
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .pool_timer(TokioTimer::new())
        .http2_only(key.protocol == PoolProtocol::Http2)
        .build(connector)
}

// === impl FixedConnector ===

impl tower::Service<Uri> for FixedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let Self { address, timeout } = *self;
        Box::pin(async move {
            let stream = tokio::time::timeout(timeout, TcpStream::connect(address))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timeout"))??;
            stream.set_nodelay(true)?;
            Ok(TokioIo::new(stream))
        })
    }
}
