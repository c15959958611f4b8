//! The admin server (Envoy's admin port, 15000 on loopback): readiness, server info, the config
//! dump, and the few operations the sidecar's lifecycle needs.
//!
//! | path | method | answer |
//! | --- | --- | --- |
//! | `/ready` | GET | 200 `LIVE` when ready; 503 `DRAINING` once the listeners drain, else 503 `INITIALIZING` |
//! | `/live` | GET | 200 `LIVE` while the process serves |
//! | `/server_info` | GET | JSON: `version`, `state`, `node`, `uptime_current_epoch`, `uptime_all_epochs` |
//! | `/config_dump` | GET | Envoy's `ConfigDump` JSON: bootstrap, clusters, endpoints, listeners, routes, and the last NACK of each type as `error_state` |
//! | `/clusters` | GET | clusters, circuit breakers and per-endpoint connections and health, in Envoy's text format; `?format=json` in Envoy's `Clusters` JSON |
//! | `/quitquitquit` | POST | asks the process to shut down |
//! | `/logging?level=FILTER` | POST | replaces the log filter |
//! | `/drain_listeners` | POST | stops every listener and closes HTTP connections gracefully; `?inboundonly` only the listeners whose `traffic_direction` is `INBOUND`; `?graceful` is accepted (the drain is always graceful) |
//! | `/stats/prometheus` | GET | the metrics, in the Prometheus text format (as the metrics port) |
//!
//! The server holds no knowledge of the rest of the process: [`AdminState`] carries callbacks
//! the binary wires to its tracing subscriber, shutdown and drain.

mod clusters;
mod config_dump;

use std::{convert::Infallible, fmt, io, sync::Arc};

use bytes::Bytes;
use envoy_types::pb::envoy::config::{bootstrap::v3::Bootstrap, core::v3::Node};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use prost::Message;
use serde_json::json;
use tokio::{net::TcpListener, sync::mpsc, time::Instant};

use mesh_xds::resource::ResourceType;

use self::clusters::ClustersView;
use crate::{
    config::ConfigStore,
    stats::{Exporter, serve},
    upstream::UpstreamConnections,
    xds_client::XdsState,
};

/// Replaces the tracing filter (an `EnvFilter` directive such as `info,mesh_proxy=debug`).
pub type SetLogLevel = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// What the admin server reads and triggers. Build with [`AdminState::new`] and the `with_`
/// methods; everything but the node is optional.
pub struct AdminState {
    node: Node,
    started: Instant,
    ready: Box<dyn Fn() -> bool + Send + Sync>,
    xds: Option<Arc<XdsState>>,
    /// Encoded: it is read only by `/config_dump`, and the decoded message of a bootstrap with
    /// static resources is several times its encoding.
    bootstrap: Option<Vec<u8>>,
    quit: Option<mpsc::Sender<()>>,
    set_log_level: Option<SetLogLevel>,
    drain: Option<Box<dyn Fn() + Send + Sync>>,
    drain_inbound: Option<Box<dyn Fn() + Send + Sync>>,
    draining: Box<dyn Fn() -> bool + Send + Sync>,
    metrics: Option<Arc<Exporter>>,
    clusters: Option<(Arc<ConfigStore>, Arc<UpstreamConnections>)>,
}

// === impl AdminState ===

impl AdminState {
    /// The state of a proxy identified as `node`, ready at once, with nothing wired.
    pub fn new(node: Node) -> Self {
        Self {
            node,
            started: Instant::now(),
            ready: Box::new(|| true),
            xds: None,
            bootstrap: None,
            quit: None,
            set_log_level: None,
            drain: None,
            drain_inbound: None,
            draining: Box::new(|| false),
            metrics: None,
            clusters: None,
        }
    }

    /// Readiness for `/ready` and `/server_info` (e.g. listeners bound and xDS synced).
    pub fn with_ready(mut self, ready: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.ready = Box::new(ready);
        self
    }

    /// The xDS client's state, for the dynamic resources of `/config_dump`.
    pub fn with_xds(mut self, xds: Arc<XdsState>) -> Self {
        self.xds = Some(xds);
        self
    }

    /// The bootstrap as read, for the static resources of `/config_dump`.
    pub fn with_bootstrap(mut self, bootstrap: Bootstrap) -> Self {
        self.bootstrap = Some(bootstrap.encode_to_vec());
        self
    }

    /// Where `/quitquitquit` sends its request to shut down.
    pub fn with_quit(mut self, quit: mpsc::Sender<()>) -> Self {
        self.quit = Some(quit);
        self
    }

    /// What `/logging?level=` calls.
    pub fn with_log_level(
        mut self,
        set: impl Fn(&str) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.set_log_level = Some(Box::new(set));
        self
    }

    /// What `/stats/prometheus` renders.
    pub fn with_metrics(mut self, metrics: Arc<Exporter>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// What `/drain_listeners` calls.
    pub fn with_drain(mut self, drain: impl Fn() + Send + Sync + 'static) -> Self {
        self.drain = Some(Box::new(drain));
        self
    }

    /// What `/drain_listeners?inboundonly` calls: drains the `INBOUND` listeners only.
    pub fn with_drain_inbound(mut self, drain: impl Fn() + Send + Sync + 'static) -> Self {
        self.drain_inbound = Some(Box::new(drain));
        self
    }

    /// The configuration and the upstream connection counts `/clusters` reports.
    pub fn with_clusters(
        mut self,
        store: Arc<ConfigStore>,
        connections: Arc<UpstreamConnections>,
    ) -> Self {
        self.clusters = Some((store, connections));
        self
    }

    /// Whether the listeners are draining, for `/ready` and `/server_info`.
    pub fn with_draining(mut self, draining: impl Fn() -> bool + Send + Sync + 'static) -> Self {
        self.draining = Box::new(draining);
        self
    }
}

impl fmt::Debug for AdminState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminState")
            .field("node", &self.node.id)
            .field("xds", &self.xds.is_some())
            .field("bootstrap", &self.bootstrap.is_some())
            .finish_non_exhaustive()
    }
}

/// Serves the admin API on `listener` until accepting fails. Each connection is HTTP/1.1 on
/// its own task.
pub async fn serve(listener: TcpListener, state: AdminState) -> io::Result<()> {
    let state = Arc::new(state);
    loop {
        let (stream, _) = listener.accept().await?;
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "admin connection failed");
            }
        });
    }
}

async fn handle(state: &AdminState, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let query = request.uri().query().unwrap_or_default().to_owned();
    let post = request.method() == Method::POST;
    let get = request.method() == Method::GET || request.method() == Method::HEAD;
    match request.uri().path() {
        "/ready" if get => {
            if (state.draining)() {
                text(StatusCode::SERVICE_UNAVAILABLE, "DRAINING\n")
            } else if (state.ready)() {
                text(StatusCode::OK, "LIVE\n")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "INITIALIZING\n")
            }
        }
        "/live" if get => text(StatusCode::OK, "LIVE\n"),
        "/server_info" if get => printed(server_info(state)),
        "/config_dump" if get => {
            let xds = state.xds.as_ref().map(|x| x.load());
            // These bytes were encoded from a `Bootstrap` by `with_bootstrap`: they decode.
            let bootstrap = state
                .bootstrap
                .as_deref()
                .and_then(|bytes| Bootstrap::decode(bytes).ok());
            printed(
                match config_dump::config_dump(bootstrap.as_ref(), xds.as_deref(), &warming(state))
                {
                    Ok(dump) => json_response(&dump),
                    Err(error) => text(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &format!("cannot print the configuration: {error}\n"),
                    ),
                },
            )
        }
        "/quitquitquit" if post => match &state.quit {
            Some(quit) => {
                // A full channel means a shutdown is already pending.
                let _ = quit.try_send(());
                text(StatusCode::OK, "OK\n")
            }
            None => text(StatusCode::NOT_IMPLEMENTED, "shutdown is not wired\n"),
        },
        "/logging" if post => logging(state, &query),
        "/drain_listeners" if post => {
            let drain = if has_param(&query, "inboundonly") {
                &state.drain_inbound
            } else {
                &state.drain
            };
            match drain {
                Some(drain) => {
                    drain();
                    text(StatusCode::OK, "OK\n")
                }
                None => text(StatusCode::NOT_IMPLEMENTED, "draining is not wired\n"),
            }
        }
        "/clusters" if get => clusters(state, &query),
        serve::PATH => match &state.metrics {
            Some(metrics) => serve::respond(&request, metrics),
            None => text(StatusCode::NOT_IMPLEMENTED, "metrics are not wired\n"),
        },
        "/ready" | "/live" | "/server_info" | "/config_dump" | "/clusters" => {
            text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n")
        }
        "/quitquitquit" | "/logging" | "/drain_listeners" => {
            text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n")
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// Whether the query string holds the parameter `name` (`name`, `name=…`).
/// What waits for its secrets, from the live configuration (none without a store).
fn warming(state: &AdminState) -> config_dump::Warming {
    let Some((store, _)) = &state.clusters else {
        return config_dump::Warming::default();
    };
    let snapshot = store.load();
    config_dump::Warming {
        clusters: snapshot.warming_clusters.keys().cloned().collect(),
        listeners: snapshot.warming_listeners.keys().cloned().collect(),
    }
}

fn has_param(query: &str, name: &str) -> bool {
    query
        .split('&')
        .any(|param| param.split('=').next() == Some(name))
}

fn clusters(state: &AdminState, query: &str) -> Response<Full<Bytes>> {
    let Some((store, connections)) = &state.clusters else {
        return text(StatusCode::NOT_IMPLEMENTED, "clusters are not wired\n");
    };
    let snapshot = store.load();
    let dynamic = state
        .xds
        .as_ref()
        .and_then(|x| {
            let status = x.load();
            let clusters = status.types.get(&ResourceType::Cluster)?;
            Some(clusters.resources.keys().cloned().collect())
        })
        .unwrap_or_default();
    let view = ClustersView {
        snapshot: &snapshot,
        connections,
        dynamic,
    };
    let format = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("format="));
    match format {
        Some("json") => json_response(&view.json()),
        None | Some("text") => text(StatusCode::OK, &view.text()),
        Some(other) => text(
            StatusCode::BAD_REQUEST,
            &format!("format {other:?} is neither json nor text\n"),
        ),
    }
}

/// `response`, once the descriptors that printed its protobuf messages as JSON are let go:
/// they are needed again only by the next such request, and take megabytes meanwhile.
fn printed(response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    mesh_xds::json::release_descriptor_pool();
    response
}

fn server_info(state: &AdminState) -> Response<Full<Bytes>> {
    let live = (state.ready)();
    let uptime = format!("{}s", state.started.elapsed().as_secs());
    let node = match mesh_xds::json::to_json(&state.node) {
        Ok(node) => node,
        Err(error) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot print the node: {error}\n"),
            );
        }
    };
    json_response(&json!({
        "version": env!("CARGO_PKG_VERSION"),
        "state": if (state.draining)() {
            "DRAINING"
        } else if live {
            "LIVE"
        } else {
            "INITIALIZING"
        },
        "node": node,
        "uptime_current_epoch": uptime,
        "uptime_all_epochs": uptime,
    }))
}

fn logging(state: &AdminState, query: &str) -> Response<Full<Bytes>> {
    let Some(set) = &state.set_log_level else {
        return text(StatusCode::NOT_IMPLEMENTED, "log levels are not wired\n");
    };
    let level = query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == "level").then(|| percent_decode(value))
    });
    match level {
        Some(Some(level)) if !level.is_empty() => match set(&level) {
            Ok(()) => text(StatusCode::OK, &format!("log level set to {level}\n")),
            Err(error) => text(StatusCode::BAD_REQUEST, &format!("{error}\n")),
        },
        _ => text(
            StatusCode::BAD_REQUEST,
            "usage: POST /logging?level=<filter>, e.g. level=info,mesh_proxy=debug\n",
        ),
    }
}

/// Decodes `%XX` escapes and `+`; `None` for a malformed escape or invalid UTF-8.
fn percent_decode(value: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(value.len());
    let mut rest = value.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            b'%' => {
                let hex = tail.get(..2)?;
                let hex = std::str::from_utf8(hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
                rest = &tail[2..];
            }
            b'+' => {
                bytes.push(b' ');
                rest = tail;
            }
            byte => {
                bytes.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8(bytes).ok()
}

fn text(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    response(status, "text/plain; charset=utf-8", body.to_owned().into())
}

fn json_response(value: &serde_json::Value) -> Response<Full<Bytes>> {
    match serde_json::to_vec_pretty(value) {
        Ok(body) => response(StatusCode::OK, "application/json", body.into()),
        Err(error) => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("{error}\n")),
    }
}

fn response(status: StatusCode, content_type: &str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    if let Ok(value) = header::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests;
