//! Capped HTTP/2 pools against a loopback upstream that holds every request until released,
//! so that streams stay open while the test counts connections.

use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body_util::{BodyExt, Empty, Full};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    net::TcpListener,
    sync::{Mutex, watch},
    time::Instant,
};

use crate::{
    balance::Algorithm,
    config::{ClusterConfig, ConnectionOptions, Discovery, UpstreamProtocol},
    upstream::{PoolProtocol, Pools, UpstreamBody, UpstreamClient},
};

/// How long any wait in these tests may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(5);

/// An HTTP/2 upstream that counts the requests each connection received and answers none
/// until released.
struct HeldUpstream {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<usize>>>,
    release: watch::Sender<bool>,
}

impl HeldUpstream {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<usize>>> = Arc::default();
        let (release, released) = watch::channel(false);
        let counts = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let index = {
                    let mut counts = counts.lock().await;
                    counts.push(0);
                    counts.len() - 1
                };
                let (counts, released) = (Arc::clone(&counts), released.clone());
                let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                    let (counts, mut released) = (Arc::clone(&counts), released.clone());
                    async move {
                        counts.lock().await[index] += 1;
                        let _ = released.wait_for(|r| *r).await;
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("ok"))))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self {
            addr,
            received,
            release,
        }
    }

    /// The requests each connection received, most first.
    async fn per_connection(&self) -> Vec<usize> {
        let mut counts = self.received.lock().await.clone();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        counts
    }

    /// Waits, within [`PATIENCE`], until `n` requests arrived in all.
    async fn until_received(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.received.lock().await.iter().sum::<usize>() < n {
            assert!(Instant::now() < deadline, "{n} requests did not arrive");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn cluster(max_concurrent_streams: Option<u32>) -> ClusterConfig {
    ClusterConfig {
        name: "c".to_owned(),
        discovery: Discovery::Eds {
            service_name: "c".to_owned(),
        },
        algorithm: Algorithm::RoundRobin,
        connect_timeout: Duration::from_secs(2),
        protocol: UpstreamProtocol::Http2,
        service: Default::default(),
        breaker: Default::default(),
        outlier: None,
        panic_threshold: 0,
        connection: ConnectionOptions {
            max_concurrent_streams,
            ..ConnectionOptions::default()
        },
        tls: None,
    }
}

async fn get(client: UpstreamClient, addr: SocketAddr) -> StatusCode {
    let body: UpstreamBody = Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut request = Request::new(body);
    *request.uri_mut() = format!("http://{addr}/").parse().unwrap();
    *request.version_mut() = Version::HTTP_2;
    let response = client.request(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}

/// Sends `n` requests at once, and waits until the upstream holds them all.
async fn held(
    client: &UpstreamClient,
    upstream: &HeldUpstream,
    n: usize,
) -> Vec<tokio::task::JoinHandle<StatusCode>> {
    let requests = (0..n)
        .map(|_| tokio::spawn(get(client.clone(), upstream.addr)))
        .collect();
    upstream.until_received(n).await;
    requests
}

#[tokio::test]
async fn a_connection_with_max_concurrent_streams_open_makes_the_pool_open_another() {
    let upstream = HeldUpstream::start().await;
    let pools = Pools::new();
    let client = pools.client(&cluster(Some(2)), upstream.addr, PoolProtocol::Http2);
    let requests = held(&client, &upstream, 5).await;
    assert_eq!(upstream.per_connection().await, [2, 2, 1]);
    assert_eq!(client.lanes().map(|l| l.len()), Some(3));

    let _ = upstream.release.send(true);
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
    // Finished streams are given back: the next requests reuse the open connections.
    for _ in 0..4 {
        assert_eq!(get(client.clone(), upstream.addr).await, StatusCode::OK);
    }
    assert_eq!(upstream.per_connection().await.len(), 3);
    assert_eq!(upstream.per_connection().await.iter().sum::<usize>(), 9);
}

#[tokio::test]
async fn without_a_cap_every_stream_shares_one_connection() {
    let upstream = HeldUpstream::start().await;
    let pools = Pools::new();
    let client = pools.client(&cluster(None), upstream.addr, PoolProtocol::Http2);
    let requests = held(&client, &upstream, 5).await;
    assert_eq!(upstream.per_connection().await, [5]);
    assert!(client.lanes().is_none());
    let _ = upstream.release.send(true);
    for request in requests {
        assert_eq!(request.await.unwrap(), StatusCode::OK);
    }
}

#[tokio::test]
async fn an_http1_pool_has_no_streams_to_cap() {
    let pools = Pools::new();
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let client = pools.client(&cluster(Some(2)), addr, PoolProtocol::Http1);
    assert!(client.lanes().is_none());
}
