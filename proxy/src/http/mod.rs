//! The HTTP connection manager: serves HTTP/1.1 and HTTP/2 on accepted connections, routes each
//! request with the snapshot's route tables, and forwards it upstream or answers it locally.
//!
//! One [`HttpContext`] is shared by every connection of the process; [`serve_connection`] runs
//! one downstream connection to its end. Failures answer as Envoy does, with the same status,
//! body and response flags: no route is `404` (`NR`), an unknown cluster the route's
//! `cluster_not_found_response_code` with an empty body (`NC`), no endpoint `503 no healthy
//! upstream` (`UH`), and so on (see [`local`]).
//!
//! Requests arriving over TLS get `x-forwarded-proto: https` and, as the connection manager's
//! `forward_client_cert_details` says, an `x-forwarded-client-cert` (see `client_cert.rs`).
//!
//! Each stream runs Envoy's idle timer (`stream_idle_timeout`, a route's `idle_timeout`) and
//! a route's `max_stream_duration` (see `stream_timer.rs`).
//!
//! Not yet supported: a retry policy's `per_try_idle_timeout`, `max_stream_duration`'s
//! `grpc-timeout` handling, and access logs for explicit-proxy requests (their metrics are
//! recorded).

mod body;
mod client_cert;
mod explicit;
mod filters;
mod forward;
mod handler;
mod header_timer;
mod headers;
pub mod local;
mod retry;
mod shadow;
mod stream_timer;
mod tunnel;

use std::{convert::Infallible, future::Future, net::SocketAddr, pin::Pin, sync::Arc};

use http::Response;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::{sync::watch, time::Instant};

pub(crate) use self::body::{End, Watch, Watched};
pub use self::{
    body::ProxyBody,
    client_cert::{
        CertDetails, ClientCertConfig, ConnectionTls, ForwardClientCert, X_FORWARDED_CLIENT_CERT,
    },
    handler::DEFAULT_STREAM_IDLE_TIMEOUT,
    shadow::{MAX_SHADOW_LIFETIME, MAX_SHADOWS, SHADOW_BODY_BUFFER},
};
use self::{handler::Conn, header_timer::HEADER_TIMEOUT};
use crate::{
    access_log::{self, AccessLog},
    config::{Codec, ConfigStore, HttpConnectionManager},
    stats::{Stats, Telemetry},
    trace_export::SpanSink,
    upstream::Pools,
};

/// Shared by every HTTP connection of the process.
#[derive(Debug)]
pub struct HttpContext {
    store: Arc<ConfigStore>,
    pools: Pools,
    telemetry: Telemetry,
    shadows: shadow::ShadowLimit,
    /// Where finished tracing spans go.
    spans: SpanSink,
    /// The HTTP/1.1 header timeout (see `header_timer.rs`).
    header_timeout: std::time::Duration,
}

/// What the listener knows about a downstream connection.
#[derive(Clone, Debug)]
pub struct Downstream {
    /// The client's address.
    pub peer: SocketAddr,
    /// The local address the connection arrived on.
    pub local: SocketAddr,
    /// The captured connection's original destination; None when the client addressed the
    /// proxy itself (explicit proxy mode).
    pub original_dst: Option<SocketAddr>,
    /// HTTP/2 prior knowledge (h2c preface seen) or HTTP/1.x.
    pub http2: bool,
    /// The listener's name, for logs and metrics.
    pub listener: String,
    /// What the TLS handshake established, when the filter chain terminated TLS.
    pub tls: Option<Arc<ConnectionTls>>,
}

/// Which connection manager handles the connection's requests.
#[derive(Clone, Debug)]
pub enum HttpHandler {
    /// A filter chain's `http_connection_manager`.
    Chain(Arc<HttpConnectionManager>),
    /// Explicit proxy mode: each request is served by the connection manager of its target's
    /// port (absolute-form URI or Host, default 80), via `crate::serve::explicit_http_manager`;
    /// CONNECT requests are tunnelled via `crate::serve::serve_tunnel`.
    Explicit,
}

// === impl HttpContext ===

impl HttpContext {
    /// A context reading its configuration from `store`, writing access logs to stdout.
    pub fn new(store: Arc<ConfigStore>) -> Self {
        Self::with_access_log(store, AccessLog::stdout(access_log::DEFAULT_CAPACITY))
    }

    /// A context writing access logs to `access_log`, with metrics of an anonymous proxy.
    pub fn with_access_log(store: Arc<ConfigStore>, access_log: AccessLog) -> Self {
        Self::with_telemetry(
            store,
            Telemetry::new(access_log, Arc::new(Stats::anonymous())),
        )
    }

    /// A context reporting requests and connections to `telemetry`.
    pub fn with_telemetry(store: Arc<ConfigStore>, telemetry: Telemetry) -> Self {
        Self {
            store,
            pools: Pools::counted(Arc::clone(telemetry.stats.upstream_connections())),
            telemetry,
            shadows: shadow::ShadowLimit::new(),
            spans: SpanSink::disabled(),
            header_timeout: HEADER_TIMEOUT,
        }
    }

    /// How long a downstream HTTP/1.1 connection may take to send its first request head, and
    /// the period after which an idle one is closed (30 s unless set).
    pub fn with_header_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// Sends the spans of connection managers with `tracing` to `spans` (an OTLP exporter);
    /// without it they are counted as dropped.
    pub fn with_spans(mut self, spans: SpanSink) -> Self {
        self.spans = spans;
        self
    }

    /// The access log, for its drop count.
    pub fn access_log(&self) -> &AccessLog {
        &self.telemetry.access_log
    }

    /// Where requests and connections are reported.
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    /// How many upstream connection pools exist.
    pub fn upstream_pools(&self) -> usize {
        self.pools.len()
    }
}

/// Serves HTTP on `io` until the client closes it, or until `shutdown` turns true (then
/// finishes in-flight requests and closes gracefully: GOAWAY / `Connection: close`).
pub async fn serve_connection<I>(
    io: I,
    downstream: Downstream,
    handler: HttpHandler,
    ctx: Arc<HttpContext>,
    mut shutdown: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let Some(http2) = speaks_http2(&handler, &downstream) else {
        // Envoy's HTTP/1 codec cannot parse the HTTP/2 preface and closes the connection
        // without an answer.
        tracing::debug!(peer = %downstream.peer, listener = %downstream.listener,
            "closing an HTTP/2 connection on an HTTP1 connection manager");
        return;
    };
    let max_concurrent_streams = match &handler {
        HttpHandler::Chain(hcm) => hcm.http2_max_concurrent_streams,
        HttpHandler::Explicit => None,
    };
    let header_timeout = ctx.header_timeout;
    let mut downstream = downstream;
    downstream.http2 = http2;
    let conn = Arc::new(Conn {
        downstream,
        handler,
        ctx,
        shutdown: shutdown.clone(),
    });
    let activity = Arc::new(header_timer::Activity::default());
    let requests = Arc::clone(&activity);
    let service = service_fn(move |request| {
        let conn = Arc::clone(&conn);
        let in_flight = requests.start();
        // Boxed as `Send` here, where the compiler can prove it for the concrete types.
        let response: Pin<Box<dyn Future<Output = Response<ProxyBody>> + Send>> =
            Box::pin(async move {
                let response = conn.handle(request).await;
                drop(in_flight);
                response
            });
        async move { Ok::<_, Infallible>(response.await) }
    });
    let io = TokioIo::new(io);
    // A dropped sender means nobody will ever ask for a shutdown.
    let stop = async move {
        if shutdown.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    if http2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder.timer(TokioTimer::new());
        // Unset keeps hyper's own limit rather than Envoy's unbounded default.
        if let Some(max) = max_concurrent_streams {
            builder.max_concurrent_streams(max);
        }
        let conn = builder.serve_connection(io, service);
        tokio::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => return log_end(result),
            () = stop => conn.as_mut().graceful_shutdown(),
        }
        log_end(conn.await);
    } else {
        // hyper's header timer is armed per request; `header_timer` keeps one per connection.
        let conn = hyper::server::conn::http1::Builder::new()
            .header_read_timeout(None)
            .serve_connection(io, service)
            .with_upgrades();
        tokio::pin!(conn);
        tokio::pin!(stop);
        let mut timer = header_timer::HeaderTimer::default();
        let wake = tokio::time::sleep(header_timeout);
        tokio::pin!(wake);
        loop {
            tokio::select! {
                result = conn.as_mut() => return log_end(result),
                () = &mut stop => break,
                () = wake.as_mut() => match timer.check(&activity) {
                    header_timer::Verdict::Keep => {}
                    header_timer::Verdict::Drain => conn.as_mut().graceful_shutdown(),
                    header_timer::Verdict::Close => {
                        tracing::debug!("closing a connection that sent no request head in time");
                        return;
                    }
                },
            }
            wake.as_mut().reset(Instant::now() + header_timeout);
        }
        conn.as_mut().graceful_shutdown();
        log_end(conn.await);
    }
}

/// Whether the connection is served as HTTP/2: what `codec_type` fixes, else what the first
/// bytes said. `None` when the configured codec cannot serve what the client speaks.
fn speaks_http2(handler: &HttpHandler, downstream: &Downstream) -> Option<bool> {
    let codec = match handler {
        HttpHandler::Chain(hcm) => hcm.codec,
        HttpHandler::Explicit => Codec::Auto,
    };
    match codec {
        Codec::Auto => Some(downstream.http2),
        Codec::Http1 => (!downstream.http2).then_some(false),
        // An HTTP/1 request fails the HTTP/2 handshake, as it does on Envoy's HTTP/2 codec.
        Codec::Http2 => Some(true),
    }
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "downstream connection ended with an error");
    }
}

#[cfg(test)]
mod tests;
