//! The health port (15021): `/healthz/ready`, which Kubernetes probes and the local mesh waits
//! on. It answers from a readiness function, so it stays correct as readiness grows (TLS
//! certificates will join listeners and configuration).

use std::{convert::Infallible, sync::Arc};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// Answers whether the proxy is ready to take traffic.
pub type Readiness = Arc<dyn Fn() -> bool + Send + Sync>;

/// Serves `/healthz/ready` on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, ready: Readiness) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "health port: accept failed");
                continue;
            }
        };
        let ready = Arc::clone(&ready);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let ready = Arc::clone(&ready);
                async move { Ok::<_, Infallible>(respond(&request, ready())) }
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // A probe that hangs up early is not worth a log line.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(request: &Request<Incoming>, ready: bool) -> Response<Full<Bytes>> {
    let (status, body) = match (request.uri().path(), ready) {
        ("/healthz/ready", true) => (StatusCode::OK, ""),
        ("/healthz/ready", false) => (StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        _ => (StatusCode::NOT_FOUND, "not found\n"),
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}
