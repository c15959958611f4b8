//! The pool against loopback upstreams that count, per connection, the requests they serve.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use socket2::SockRef;
use tokio::{net::TcpListener, sync::Mutex, time::Instant};

use super::*;
use crate::{
    balance::Algorithm,
    config::{Discovery, TcpKeepalive, UpstreamProtocol},
};

/// How long any wait in these tests may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(5);

/// An HTTP upstream on loopback that records how many requests each connection served.
struct Upstream {
    addr: SocketAddr,
    served: Arc<Mutex<Vec<usize>>>,
    closed: Arc<AtomicUsize>,
}

impl Upstream {
    async fn start(protocol: PoolProtocol) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served: Arc<Mutex<Vec<usize>>> = Arc::default();
        let closed: Arc<AtomicUsize> = Arc::default();
        let (counts, ends) = (Arc::clone(&served), Arc::clone(&closed));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = {
                    let mut served = counts.lock().await;
                    served.push(0);
                    served.len() - 1
                };
                let (counts, ends) = (Arc::clone(&counts), Arc::clone(&ends));
                tokio::spawn(async move {
                    let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                        let counts = Arc::clone(&counts);
                        async move {
                            counts.lock().await[index] += 1;
                            Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("ok"))))
                        }
                    });
                    let io = TokioIo::new(stream);
                    let _ = match protocol {
                        PoolProtocol::Http1 => {
                            hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await
                        }
                        PoolProtocol::Http2 => {
                            hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                                .serve_connection(io, service)
                                .await
                        }
                    };
                    ends.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            served,
            closed,
        }
    }

    /// The requests served by each connection that served any, in the order they opened.
    async fn served(&self) -> Vec<usize> {
        let served = self.served.lock().await;
        served.iter().copied().filter(|&n| n > 0).collect()
    }

    /// Waits, within [`PATIENCE`], until `n` connections have closed.
    async fn until_closed(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.closed.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "{n} connections did not close");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn cluster(connection: ConnectionOptions) -> ClusterConfig {
    ClusterConfig {
        name: "c".to_owned(),
        discovery: Discovery::Eds {
            service_name: "c".to_owned(),
        },
        algorithm: Algorithm::RoundRobin,
        connect_timeout: Duration::from_secs(2),
        protocol: UpstreamProtocol::Http1,
        service: Default::default(),
        breaker: Default::default(),
        outlier: None,
        panic_threshold: 0,
        connection,
        tls: None,
    }
}

async fn get(client: &UpstreamClient, upstream: &Upstream, protocol: PoolProtocol) -> StatusCode {
    let body: UpstreamBody = Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut request = Request::new(body);
    *request.uri_mut() = format!("http://{}/", upstream.addr).parse().unwrap();
    if protocol == PoolProtocol::Http2 {
        *request.version_mut() = Version::HTTP_2;
    }
    let response = client.request(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}

/// Sends `n` requests one after the other.
async fn send(
    pools: &Pools,
    options: ConnectionOptions,
    upstream: &Upstream,
    protocol: PoolProtocol,
    n: usize,
) {
    let client = pools.client(&cluster(options), upstream.addr, protocol);
    for _ in 0..n {
        assert_eq!(get(&client, upstream, protocol).await, StatusCode::OK);
    }
}

fn max_requests(n: u32) -> ConnectionOptions {
    ConnectionOptions {
        max_requests_per_connection: Some(n),
        ..ConnectionOptions::default()
    }
}

#[tokio::test]
async fn without_limits_http2_requests_share_one_connection() {
    let upstream = Upstream::start(PoolProtocol::Http2).await;
    send(
        &Pools::new(),
        ConnectionOptions::default(),
        &upstream,
        PoolProtocol::Http2,
        5,
    )
    .await;
    assert_eq!(upstream.served().await, [5]);
}

#[tokio::test]
async fn an_http2_connection_retires_after_max_requests_per_connection() {
    let upstream = Upstream::start(PoolProtocol::Http2).await;
    send(
        &Pools::new(),
        max_requests(2),
        &upstream,
        PoolProtocol::Http2,
        5,
    )
    .await;
    assert_eq!(upstream.served().await, [2, 2, 1]);
    // Retired connections close once their requests are done.
    upstream.until_closed(2).await;
}

#[tokio::test]
async fn one_request_per_connection_turns_http1_keep_alive_off() {
    let upstream = Upstream::start(PoolProtocol::Http1).await;
    send(
        &Pools::new(),
        max_requests(1),
        &upstream,
        PoolProtocol::Http1,
        4,
    )
    .await;
    assert_eq!(upstream.served().await, [1, 1, 1, 1]);
    upstream.until_closed(4).await;
}

#[tokio::test]
async fn no_http1_connection_serves_more_than_max_requests_per_connection() {
    let upstream = Upstream::start(PoolProtocol::Http1).await;
    send(
        &Pools::new(),
        max_requests(3),
        &upstream,
        PoolProtocol::Http1,
        7,
    )
    .await;
    let served = upstream.served().await;
    assert_eq!(served.iter().sum::<usize>(), 7);
    assert!(served.iter().all(|&n| n <= 3), "{served:?}");
}

#[tokio::test]
async fn idle_connections_close_after_idle_timeout() {
    let upstream = Upstream::start(PoolProtocol::Http2).await;
    let options = ConnectionOptions {
        idle_timeout: Some(Duration::from_millis(100)),
        ..ConnectionOptions::default()
    };
    let pools = Pools::new();
    send(&pools, options, &upstream, PoolProtocol::Http2, 1).await;
    upstream.until_closed(1).await;
    send(&pools, options, &upstream, PoolProtocol::Http2, 1).await;
    assert_eq!(upstream.served().await, [1, 1]);
}

#[tokio::test]
async fn a_connection_retires_after_max_connection_duration() {
    let upstream = Upstream::start(PoolProtocol::Http2).await;
    let duration = Duration::from_millis(300);
    let options = ConnectionOptions {
        max_connection_duration: Some(duration),
        ..ConnectionOptions::default()
    };
    let client = Pools::new().client(&cluster(options), upstream.addr, PoolProtocol::Http2);
    let started = Instant::now();
    assert_eq!(
        get(&client, &upstream, PoolProtocol::Http2).await,
        StatusCode::OK
    );
    // Paced requests until one goes out on a second connection.
    while upstream.served().await.len() < 2 {
        assert!(started.elapsed() < PATIENCE, "no second connection");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            get(&client, &upstream, PoolProtocol::Http2).await,
            StatusCode::OK
        );
    }
    assert!(
        started.elapsed() >= duration,
        "retired after {:?}",
        started.elapsed()
    );
    upstream.until_closed(1).await;
}

#[tokio::test]
async fn the_connector_sets_the_cluster_s_keepalive_on_its_sockets() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let keepalive = TcpKeepalive {
        probes: Some(3),
        time: Some(Duration::from_secs(120)),
        interval: Some(Duration::from_secs(15)),
    };
    let mut connector = FixedConnector {
        address: listener.local_addr().unwrap(),
        timeout: PATIENCE,
        counts: Arc::default(),
        connection: ConnectionOptions {
            tcp_keepalive: Some(keepalive),
            ..ConnectionOptions::default()
        },
        tls: None,
        alpn: Alpn::Configured,
    };
    let io = tower::Service::call(&mut connector, Uri::from_static("http://c/"))
        .await
        .unwrap();
    let socket = SockRef::from(io.inner().inner.tcp());
    assert!(socket.keepalive().unwrap());
    assert_eq!(socket.keepalive_retries().unwrap(), 3);
    assert_eq!(socket.keepalive_time().unwrap(), Duration::from_secs(120));
    assert_eq!(
        socket.keepalive_interval().unwrap(),
        Duration::from_secs(15)
    );
    // Without keep-alive in the cluster, the socket has none.
    connector.connection = ConnectionOptions::default();
    let io = tower::Service::call(&mut connector, Uri::from_static("http://c/"))
        .await
        .unwrap();
    assert!(!SockRef::from(io.inner().inner.tcp()).keepalive().unwrap());
}

#[tokio::test]
async fn a_keepalive_the_system_refuses_fails_the_connect_and_is_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let counts: Arc<ClusterConnections> = Arc::default();
    let mut connector = FixedConnector {
        address: listener.local_addr().unwrap(),
        timeout: PATIENCE,
        counts: Arc::clone(&counts),
        connection: ConnectionOptions {
            // Linux takes at most 127 probes; the compiler refuses more, a test can still ask.
            tcp_keepalive: Some(TcpKeepalive {
                probes: Some(128),
                time: None,
                interval: None,
            }),
            ..ConnectionOptions::default()
        },
        tls: None,
        alpn: Alpn::Configured,
    };
    let error = tower::Service::call(&mut connector, Uri::from_static("http://c/"))
        .await
        .err()
        .unwrap();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    let stats = counts.stats();
    assert_eq!(
        (stats.opened, stats.connect_failures, stats.active),
        (1, 1, 0)
    );
}

/// A cluster with TLS sending `sni`, compiled as CDS would deliver it.
fn tls_cluster(sni: &str) -> ClusterConfig {
    let yaml = format!(
        "name: c\ntype: EDS\ntransport_socket: {{name: envoy.transport_sockets.tls, \
         typed_config: {{\"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.\
         v3.UpstreamTlsContext, sni: {sni}}}}}"
    );
    let cluster = mesh_xds::json::from_yaml(&yaml).unwrap();
    crate::config::compile_cluster(&cluster).unwrap()
}

#[test]
fn a_cds_update_that_changes_tls_gets_new_clients_and_one_that_does_not_keeps_them() {
    let pools = Pools::new();
    let address: SocketAddr = "127.0.0.1:1".parse().unwrap();
    pools.client(&tls_cluster("a.example"), address, PoolProtocol::Http1);
    // Recompiled, equal: the same client, so its pooled connections stay.
    pools.client(&tls_cluster("a.example"), address, PoolProtocol::Http1);
    assert_eq!(pools.len(), 1);
    pools.client(&tls_cluster("b.example"), address, PoolProtocol::Http1);
    assert_eq!(pools.len(), 2);
    pools.client(
        &cluster(ConnectionOptions::default()),
        address,
        PoolProtocol::Http1,
    );
    assert_eq!(pools.len(), 3);
}
