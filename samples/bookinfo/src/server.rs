//! A small HTTP server shared by the four services: HTTP/1.1 and HTTP/2 (prior knowledge), one
//! log line per request, and a graceful shutdown that lets in-flight requests finish.

use std::{convert::Infallible, future::Future, io, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{net::TcpListener, sync::watch, task::JoinSet, time::Instant};

/// How long shutdown waits for open connections before giving up on them.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(30);

/// The response body every service sends: small and fully built before it is sent.
pub type Body = Full<Bytes>;

/// A service's request handler.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, req: Request<Incoming>) -> impl Future<Output = Response<Body>> + Send;
}

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
}

// === impl Server ===

impl Server {
    /// Binds `addr`; port 0 picks a free port (see [`Server::local_addr`]).
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self { listener })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then stops accepting, asks every open connection to
    /// close once its in-flight request is answered, and waits for them (at most
    /// [`DRAIN_DEADLINE`]).
    pub async fn serve<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let handler = Arc::new(handler);
        let (drain_tx, drain_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        connections.spawn(connection(stream, handler.clone(), drain_rx.clone()));
                    }
                    // A failed accept (e.g. too many open files) is about that one connection.
                    Err(error) => tracing::warn!(%error, "accept failed"),
                },
                // Reap finished connections so the set does not grow without bound.
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(self.listener);
        // Nobody may be listening any more: that only means every connection has finished.
        let _ = drain_tx.send(true);
        let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                open = connections.len(),
                "connections still open after the drain deadline"
            );
        }
        Ok(())
    }
}

async fn connection<H: Handler>(
    stream: tokio::net::TcpStream,
    handler: Arc<H>,
    mut drain: watch::Receiver<bool>,
) {
    let service = service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(logged(&*handler, req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => return log_connection_error(result),
        _ = drain.wait_for(|draining| *draining) => {}
    }
    conn.as_mut().graceful_shutdown();
    log_connection_error(conn.await);
}

fn log_connection_error(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(error) = result {
        tracing::debug!(%error, "connection closed with an error");
    }
}

async fn logged<H: Handler>(handler: &H, req: Request<Incoming>) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let response = handler.handle(req).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        duration_ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

/// A JSON response; fields keep the order of the serialized struct.
pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => respond(status, "application/json", body),
        // Only maps with non-string keys fail to serialize, and no response has one.
        Err(error) => respond(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            error.to_string(),
        ),
    }
}

/// An HTML response.
pub fn html(status: StatusCode, body: String) -> Response<Body> {
    respond(status, "text/html; charset=utf-8", body)
}

/// A plain 404 for unknown paths.
pub fn not_found() -> Response<Body> {
    json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not found"}),
    )
}

/// A 405 for anything but the methods a path serves.
pub fn method_not_allowed() -> Response<Body> {
    json(
        StatusCode::METHOD_NOT_ALLOWED,
        &serde_json::json!({"error": "method not allowed"}),
    )
}

/// The product id of a `/<service>/<id>` path, or the 400 Istio's sample answers.
// The error is the response itself, which every caller returns as it is.
#[allow(clippy::result_large_err)]
pub fn product_id(segment: &str) -> Result<u64, Response<Body>> {
    segment.parse().map_err(|_| {
        json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"error": "please provide numeric product id"}),
        )
    })
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
