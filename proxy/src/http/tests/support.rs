//! Upstream servers, the proxy under test, clients and configuration builders.

mod config;
mod raw;

use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, Uri, Version};
use http_body_util::BodyExt;
use hyper::{
    body::Incoming,
    client::conn::{http1, http2},
    service::service_fn,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
    task::JoinHandle,
};

pub use self::{config::*, raw::*};
use crate::{
    access_log::AccessLog,
    config::{ConfigStore, HttpConnectionManager, Snapshot},
    http::{Downstream, HttpContext, HttpHandler, ProxyBody, body, serve_connection},
};

/// How long any single wait in these tests may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What an upstream saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: HeaderMap,
}

/// A hyper server on loopback.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    hits: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
}

impl Upstream {
    /// Serves HTTP/1.1 and h2c with `handler`.
    pub async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<ProxyBody>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, seen) = mpsc::unbounded_channel();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&hits);
        let connections = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::clone(&connections);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (handler, tx, counter) = (handler.clone(), tx.clone(), Arc::clone(&counter));
                let service = service_fn(move |request: Request<Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = tx.send(Seen {
                        method: request.method().clone(),
                        uri: request.uri().clone(),
                        version: request.version(),
                        headers: request.headers().clone(),
                    });
                    let response = handler(request);
                    async move { Ok::<_, std::convert::Infallible>(response.await) }
                });
                tokio::spawn(async move {
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            seen,
            hits,
            connections,
        }
    }

    /// Answers every request with 200 and `name` as the body.
    pub async fn named(name: &'static str) -> Self {
        Self::start(move |_| async move { text(200, name) }).await
    }

    /// Answers every request with `status` and `name` as the body.
    pub async fn failing(name: &'static str, status: u16) -> Self {
        Self::start(move |_| async move { text(status, name) }).await
    }

    /// How many requests arrived.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The next request seen.
    pub async fn next(&mut self) -> Seen {
        tokio::time::timeout(PATIENCE, self.seen.recv())
            .await
            .expect("the upstream sees a request in time")
            .expect("the upstream is running")
    }
}

/// A response with `status` and a text body.
pub fn text(status: u16, body: &'static str) -> Response<ProxyBody> {
    Response::builder()
        .status(status)
        .body(body::full(body))
        .unwrap()
}

/// An address nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// The proxy under test, serving each accepted connection with `serve_connection`.
pub struct Proxy {
    pub addr: SocketAddr,
    pub logs: mpsc::Receiver<String>,
    pub shutdown: watch::Sender<bool>,
    pub ctx: Arc<HttpContext>,
}

impl Proxy {
    /// A proxy whose connections use `handler`; `http2` as the detection would tell.
    pub async fn start(snapshot: Snapshot, handler: HttpHandler, http2: bool) -> Self {
        Self::start_with(snapshot, handler, http2, |ctx| ctx).await
    }

    /// As [`Proxy::start`], with the context that `configure` makes of the default one.
    pub async fn start_with(
        snapshot: Snapshot,
        handler: HttpHandler,
        http2: bool,
        configure: impl FnOnce(HttpContext) -> HttpContext,
    ) -> Self {
        let store = Arc::new(ConfigStore::new(snapshot));
        let (log, logs) = AccessLog::channel(1024);
        let ctx = Arc::new(configure(HttpContext::with_access_log(store, log)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, stop) = watch::channel(false);
        let shared = Arc::clone(&ctx);
        tokio::spawn(async move {
            loop {
                let Ok((stream, peer)) = listener.accept().await else {
                    return;
                };
                let downstream = Downstream {
                    peer,
                    local: addr,
                    original_dst: None,
                    http2,
                    listener: "test".to_owned(),
                    tls: None,
                };
                tokio::spawn(serve_connection(
                    stream,
                    downstream,
                    handler.clone(),
                    Arc::clone(&shared),
                    stop.clone(),
                ));
            }
        });
        Self {
            addr,
            logs,
            shutdown,
            ctx,
        }
    }

    /// A proxy whose chain is `manager`, in front of `upstream`, the one endpoint of the
    /// HTTP/1.1 cluster `a`; `http2` as the detection would tell.
    pub async fn managed(
        upstream: SocketAddr,
        manager: HttpConnectionManager,
        http2: bool,
    ) -> Self {
        let snapshot = snapshot(&[("a", &[upstream])]);
        Self::start(snapshot, HttpHandler::Chain(Arc::new(manager)), http2).await
    }

    /// A proxy for an HTTP/1.1 chain routing with `routes` (YAML `RouteConfiguration`).
    pub async fn h1(snapshot: Snapshot, routes: &str) -> Self {
        Self::start(snapshot, HttpHandler::Chain(hcm(routes)), false).await
    }

    /// A proxy for a chain routing with `routes`, whose connections the detection found to
    /// open with the HTTP/2 preface.
    pub async fn h2(snapshot: Snapshot, routes: &str) -> Self {
        Self::start(snapshot, HttpHandler::Chain(hcm(routes)), true).await
    }

    /// The next access log line.
    pub async fn log(&mut self) -> serde_json::Value {
        let line = tokio::time::timeout(PATIENCE, self.logs.recv())
            .await
            .expect("a log line in time")
            .expect("the log is open");
        serde_json::from_str(&line).unwrap()
    }

    /// An HTTP/1.1 client connection.
    pub async fn h1_client(&self) -> http1::SendRequest<ProxyBody> {
        self.h1_connection().await.0
    }

    /// An HTTP/1.1 client connection, and the task that drives it: it ends when the
    /// connection closes.
    pub async fn h1_connection(
        &self,
    ) -> (http1::SendRequest<ProxyBody>, JoinHandle<hyper::Result<()>>) {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (send, conn) = http1::handshake(TokioIo::new(stream)).await.unwrap();
        (send, tokio::spawn(conn))
    }

    /// An HTTP/2 (prior knowledge) client connection.
    pub async fn h2_client(&self) -> http2::SendRequest<ProxyBody> {
        self.h2_connection().await.0
    }

    /// An HTTP/2 (prior knowledge) client connection, and the task that drives it: it ends
    /// when the connection closes.
    pub async fn h2_connection(
        &self,
    ) -> (http2::SendRequest<ProxyBody>, JoinHandle<hyper::Result<()>>) {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (send, conn) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
        (send, tokio::spawn(conn))
    }

    /// Sends `GET path` with `Host: host` on a fresh HTTP/1.1 connection.
    pub async fn get(&self, host: &str, path: &str) -> Response<Incoming> {
        let mut client = self.h1_client().await;
        let request = get(host, path);
        within(client.send_request(request)).await.unwrap()
    }
}

/// `GET path` with `Host: host` and an empty body.
pub fn get(host: &str, path: &str) -> Request<ProxyBody> {
    Request::builder()
        .uri(path)
        .header("host", host)
        .body(body::empty())
        .unwrap()
}

/// An HTTP/2 `GET uri` with an empty body; `uri` is absolute, as HTTP/2 carries the authority
/// in it.
pub fn h2_get(uri: &str) -> Request<ProxyBody> {
    Request::builder()
        .version(Version::HTTP_2)
        .uri(uri)
        .body(body::empty())
        .unwrap()
}

/// Awaits `future`, failing the test if it takes longer than [`PATIENCE`].
pub async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("finished in time")
}

/// The whole body as text.
pub async fn text_of(response: Response<Incoming>) -> String {
    let bytes = within(response.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// A request body that the test feeds frame by frame.
pub fn channel_body() -> (mpsc::Sender<Bytes>, ProxyBody) {
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        let data = rx.recv().await?;
        Some((
            Ok::<_, crate::upstream::BoxError>(hyper::body::Frame::data(data)),
            rx,
        ))
    });
    (tx, http_body_util::StreamBody::new(stream).boxed_unsync())
}
