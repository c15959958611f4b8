//! The metrics port (15090, Istio's): `/stats/prometheus`, where Prometheus scrapes the proxy.

use std::{convert::Infallible, sync::Arc};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::Exporter;

/// The path Istio's proxies serve their metrics on.
pub const PATH: &str = "/stats/prometheus";

/// The content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves [`PATH`] on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, exporter: Arc<Exporter>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "metrics port: accept failed");
                continue;
            }
        };
        let exporter = Arc::clone(&exporter);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let exporter = Arc::clone(&exporter);
                async move { Ok::<_, Infallible>(respond(&request, &exporter)) }
            });
            // A scraper that hangs up early is not worth a log line.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The answer to one request of the metrics port, or of the admin's [`PATH`].
pub fn respond<B>(request: &Request<B>, exporter: &Exporter) -> Response<Full<Bytes>> {
    let get = request.method() == Method::GET || request.method() == Method::HEAD;
    let (status, content_type, body) = match request.uri().path() {
        PATH if get => (StatusCode::OK, CONTENT_TYPE, exporter.render()),
        PATH => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "use GET\n".to_owned(),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
