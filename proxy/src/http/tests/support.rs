//! Upstream servers, the proxy under test, clients and configuration builders.

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
use envoy_types::pb::envoy::config::{
    endpoint::v3::ClusterLoadAssignment, route::v3::RouteConfiguration,
};
use http::{HeaderMap, Method, Request, Response, Uri, Version};
use http_body_util::BodyExt;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use mesh_xds::json::from_yaml;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{mpsc, watch},
};

use crate::{
    access_log::AccessLog,
    balance::{Algorithm, EndpointSet},
    config::{
        ClusterConfig, ConfigStore, Discovery, HttpConnectionManager, RouteSource, Snapshot,
        UpstreamProtocol,
    },
    http::{Downstream, HttpContext, HttpHandler, ProxyBody, body, serve_connection},
    route::RouteTable,
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
        let store = Arc::new(ConfigStore::new(snapshot));
        let (log, logs) = AccessLog::channel(1024);
        let ctx = Arc::new(HttpContext::with_access_log(store, log));
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

    /// A proxy for an HTTP/1.1 chain routing with `routes` (YAML `RouteConfiguration`).
    pub async fn h1(snapshot: Snapshot, routes: &str) -> Self {
        Self::start(snapshot, HttpHandler::Chain(hcm(routes)), false).await
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
    pub async fn h1_client(&self) -> hyper::client::conn::http1::SendRequest<ProxyBody> {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        send
    }

    /// An HTTP/2 (prior knowledge) client connection.
    pub async fn h2_client(&self) -> hyper::client::conn::http2::SendRequest<ProxyBody> {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        let (send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        send
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

/// An HTTP connection manager with an inline route table and access logs on.
pub fn hcm(routes: &str) -> Arc<HttpConnectionManager> {
    Arc::new(HttpConnectionManager {
        stat_prefix: "test".to_owned(),
        codec: Default::default(),
        routes: RouteSource::Inline(table(routes)),
        access_log: true,
        generate_request_id: true,
        use_remote_address: false,
        stream_idle_timeout: None,
        fault: None,
        cors: false,
    })
}

/// The connection manager of a compiled one-chain listener whose `HttpConnectionManager` has
/// `fields` (one YAML line) besides an inline route table.
pub fn compiled_hcm(fields: &str) -> Arc<HttpConnectionManager> {
    compile_hcm(fields).unwrap()
}

/// Compiles the listener of [`compiled_hcm`]: its connection manager, or the refusal.
pub fn compile_hcm(
    fields: &str,
) -> Result<Arc<HttpConnectionManager>, crate::config_error::ConfigError> {
    let listener: envoy_types::pb::envoy::config::listener::v3::Listener = from_yaml(&format!(
        r#"
name: l
address: {{ socket_address: {{ address: 127.0.0.1, port_value: 9080 }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          {fields}
          route_config: {{ name: r, virtual_hosts: [ {{ name: v, domains: ["*"], routes: [ {{ match: {{ prefix: / }}, route: {{ cluster: a }} }} ] }} ] }}
          http_filters: [ {{ name: envoy.filters.http.router }} ]
"#
    ))
    .unwrap();
    let config = crate::config::compile_listener(&listener)?;
    match &config.filter_chains[0].filter {
        crate::config::NetworkFilter::Http(hcm) => Ok(Arc::clone(hcm)),
        other => panic!("not HTTP: {other:?}"),
    }
}

/// A compiled route table from YAML.
pub fn table(routes: &str) -> Arc<RouteTable> {
    let config: RouteConfiguration = from_yaml(routes).unwrap();
    Arc::new(RouteTable::compile(&config).unwrap())
}

/// A route table sending everything to `cluster`.
pub fn to_cluster(cluster: &str) -> String {
    format!(
        "name: r\nvirtual_hosts: [ {{ name: v, domains: ['*'], routes: [ \
         {{ match: {{ prefix: / }}, route: {{ cluster: {cluster} }} }} ] }} ]"
    )
}

/// Adds an EDS-style cluster with `endpoints` (round robin) to `snapshot`.
pub fn add_cluster(
    snapshot: &mut Snapshot,
    name: &str,
    protocol: UpstreamProtocol,
    endpoints: &[SocketAddr],
) {
    snapshot.clusters.insert(
        name.to_owned(),
        Arc::new(ClusterConfig {
            name: name.to_owned(),
            discovery: Discovery::Eds {
                service_name: name.to_owned(),
            },
            algorithm: Algorithm::RoundRobin,
            connect_timeout: Duration::from_secs(2),
            protocol,
            service: Default::default(),
            breaker: Default::default(),
            outlier: None,
        }),
    );
    let lb_endpoints: Vec<String> = endpoints
        .iter()
        .map(|a| {
            format!(
                "{{ endpoint: {{ address: {{ socket_address: {{ address: '{}', port_value: {} }} }} }} }}",
                a.ip(),
                a.port()
            )
        })
        .collect();
    let cla: ClusterLoadAssignment = from_yaml(&format!(
        "cluster_name: {name}\nendpoints: [ {{ lb_endpoints: [ {} ] }} ]",
        lb_endpoints.join(", ")
    ))
    .unwrap();
    snapshot.endpoints.insert(
        name.to_owned(),
        Arc::new(EndpointSet::compile(&cla).unwrap()),
    );
}

/// A snapshot with one HTTP/1.1 cluster per `(name, endpoints)`.
pub fn snapshot(clusters: &[(&str, &[SocketAddr])]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    for (name, endpoints) in clusters {
        add_cluster(&mut snapshot, name, UpstreamProtocol::Http1, endpoints);
    }
    snapshot
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
