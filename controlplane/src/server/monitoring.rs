//! The monitoring server (15014): readiness, Prometheus metrics and the `/debug` pages, over
//! plain HTTP/1.1.
//!
//! Requests are answered by [`Monitoring::respond`], a synchronous function of the control
//! plane's state, so that the pages are tested without a socket; [`serve`] only carries them.

use std::{
    collections::BTreeSet,
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use mesh_common::load::LoadError;
use serde_json::Value;
use tokio::{net::TcpListener, sync::watch, task::JoinSet};

use super::{
    debug,
    generator::ModelGenerator,
    metrics::{FilesParsed, Metrics, Observed},
};
use crate::{
    translate::{self, ProxyKind},
    xds::StatusRegistry,
};

/// The state the pages show.
#[derive(Debug)]
pub struct Monitoring {
    pub generator: Arc<ModelGenerator>,
    pub status: Arc<StatusRegistry>,
    pub metrics: Arc<Metrics>,
    /// The config store's load errors.
    pub errors: watch::Receiver<Arc<[LoadError]>>,
    /// The config store's count of parsed files, for `/metrics`.
    pub files_parsed: FilesParsed,
    /// Set once the first snapshot is built and the xDS server listens.
    pub ready: AtomicBool,
}

/// The Prometheus text exposition format's content type.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The pause after a failed `accept`.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

// === impl Monitoring ===

impl Monitoring {
    /// The response to `GET path?query` (or to another method, refused).
    pub fn respond(&self, method: &Method, path: &str, query: Option<&str>) -> Response<Bytes> {
        if method != Method::GET && method != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "only GET is served\n");
        }
        match path {
            "/ready" => {
                if self.ready.load(Ordering::Acquire) {
                    text(StatusCode::OK, "ready\n")
                } else {
                    text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                }
            }
            "/version" => text(
                StatusCode::OK,
                concat!("mesh-controlplane ", env!("CARGO_PKG_VERSION"), "\n"),
            ),
            "/metrics" => {
                let status = self.status.snapshot();
                let errors = self.errors.borrow().clone();
                if let Some(total) = self.files_parsed.get() {
                    self.metrics.files_parsed(total);
                }
                let observed = Observed {
                    status: &status,
                    load_errors: &errors,
                    snapshot_version: self.generator.snapshot().version(),
                };
                respond(
                    StatusCode::OK,
                    PROMETHEUS_TEXT,
                    self.metrics.render(&observed),
                )
            }
            "/debug/syncz" => json(StatusCode::OK, &debug::syncz(&self.status.snapshot())),
            "/debug/config_status" => {
                let errors = self.errors.borrow().clone();
                let mut status = debug::config_status(&self.generator.snapshot(), &errors);
                status["unresolved_secrets"] = self.generator.unresolved_secrets();
                json(StatusCode::OK, &status)
            }
            "/debug/config_dump" => self.config_dump(query),
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    fn config_dump(&self, query: Option<&str>) -> Response<Bytes> {
        let Some(id) = query.and_then(|query| parameter(query, "proxyID")) else {
            return text(
                StatusCode::BAD_REQUEST,
                "name the proxy: /debug/config_dump?proxyID=<node id>\n",
            );
        };
        let Some(translated) = self.generator.translate_known(&id) else {
            let connected: BTreeSet<_> = self
                .status
                .snapshot()
                .proxies
                .into_iter()
                .map(|proxy| proxy.node_id)
                .collect();
            let connected: Vec<_> = connected.into_iter().collect();
            return text(
                StatusCode::NOT_FOUND,
                &format!(
                    "proxy {id:?} is not connected; connected: [{}]\n",
                    connected.join(", ")
                ),
            );
        };
        let dump = translated
            .map_err(|error| error.to_string())
            .and_then(|translated| {
                let warnings = match translated.proxy.kind {
                    ProxyKind::Router => {
                        translate::gateway_report(&self.generator.snapshot(), &translated.proxy)
                    }
                    ProxyKind::Sidecar => {
                        translate::sidecar_report(&self.generator.snapshot(), &translated.proxy)
                    }
                };
                let mut dump = debug::config_dump(&id, &translated, &warnings)?;
                dump["secrets"] = self.generator.dump_secrets(&id)?;
                Ok(dump)
            });
        match dump {
            Ok(dump) => json(StatusCode::OK, &dump),
            Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{error}\n")),
        }
    }
}

/// The value of `name` in a URL query, percent-decoded.
fn parameter(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

/// Decodes `%XX` escapes and `+`; an escape that is not one is kept as written.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let digit = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = if byte == b'%' {
            digit(i + 1).zip(digit(i + 2))
        } else {
            None
        };
        match escaped {
            Some((high, low)) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
            }
            None => {
                out.push(if byte == b'+' { b' ' } else { byte });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

fn text(status: StatusCode, body: &str) -> Response<Bytes> {
    respond(status, "text/plain; charset=utf-8", body.to_string())
}

fn json(status: StatusCode, value: &Value) -> Response<Bytes> {
    // A `Value` always serializes.
    let body = serde_json::to_string_pretty(value).unwrap_or_default();
    respond(status, "application/json", body + "\n")
}

/// Serves `monitoring` on `listener` until `shutdown` turns true; then stops accepting and
/// drops the open connections (scrapes and page loads, nothing that needs finishing).
pub async fn serve(
    listener: TcpListener,
    monitoring: Arc<Monitoring>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let stopped = async move {
        // A dropped sender stops the server as a sent stop does.
        let _ = shutdown.wait_for(|stop| *stop).await;
    };
    tokio::pin!(stopped);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // A connection reset before it was accepted, or no file descriptor left
                    // for a moment: the server goes on, after a pause so as not to spin.
                    tracing::warn!(%error, "monitoring server cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut stopped => return,
        };
        let monitoring = Arc::clone(&monitoring);
        let service = service_fn(move |request: Request<Incoming>| {
            let response = monitoring.respond(
                request.method(),
                request.uri().path(),
                request.uri().query(),
            );
            async move { Ok::<_, Infallible>(response.map(Full::new)) }
        });
        connections.spawn(async move {
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "monitoring connection ended");
            }
        });
        // Reap finished connections so that the set does not grow with every scrape.
        while connections.try_join_next().is_some() {}
    }
}

#[cfg(test)]
mod tests;
