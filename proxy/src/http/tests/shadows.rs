//! Shadows counted by how they end (`mesh_proxy_shadow_requests_total`), and not lost to what
//! earlier traffic and config left behind.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use http::{Request, StatusCode};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

use super::support::*;
use crate::{
    config::Snapshot,
    http::{MAX_SHADOWS, SHADOW_BODY_BUFFER, body},
    upstream::{CircuitBreaker, Thresholds},
};

/// Everything to cluster `a`, mirrored whole to `m`; `timeout` is the route's.
pub(super) fn mirrored_to_m(timeout: Option<&str>) -> String {
    let timeout = timeout.map_or(String::new(), |t| format!(", timeout: {t}"));
    format!(
        "name: r\nvirtual_hosts: [ {{ name: v, domains: ['*'], routes: [ \
         {{ match: {{ prefix: / }}, route: {{ cluster: a{timeout}, \
         request_mirror_policies: [ {{ cluster: m }} ] }} }} ] }} ]"
    )
}

/// Cluster `m`'s shadows as a scrape shows them: `[sent, failed, dropped]`.
fn shadows(proxy: &Proxy) -> [u64; 3] {
    let rendered = proxy.ctx.telemetry().stats.render();
    ["sent", "failed", "dropped"].map(|outcome| {
        let series =
            format!("mesh_proxy_shadow_requests_total{{cluster=\"m\",outcome=\"{outcome}\"}} ");
        rendered
            .lines()
            .find_map(|line| line.strip_prefix(&series)?.parse().ok())
            .unwrap_or(0)
    })
}

/// Waits until cluster `m`'s shadows are `expected`, failing the test after [`PATIENCE`].
pub(super) async fn until_shadows(proxy: &Proxy, expected: [u64; 3]) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let seen = shadows(proxy);
        if seen == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shadows [sent, failed, dropped]: {seen:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Sends `n` requests through `proxy`, each answered 200 by cluster `a`.
async fn load(proxy: &Proxy, n: usize) {
    for _ in 0..n {
        let response = proxy.get("shop", "/cart").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text_of(response).await, "a");
    }
}

/// `snapshot` with cluster `m`'s breaker replaced by one with `thresholds`.
fn with_thresholds(mut snapshot: Snapshot, thresholds: Thresholds) -> Snapshot {
    let mut cluster = snapshot.clusters["m"].as_ref().clone();
    cluster.breaker = Arc::new(CircuitBreaker::new(thresholds));
    snapshot.clusters.insert("m".into(), Arc::new(cluster));
    snapshot
}

/// An upstream that takes requests and never answers.
async fn silent() -> Upstream {
    Upstream::start(|_| async {
        std::future::pending::<()>().await;
        text(200, "never")
    })
    .await
}

#[tokio::test]
async fn every_answered_shadow_counts_as_sent() {
    let main = Upstream::named("a").await;
    let mirror = Upstream::failing("m", 503).await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[mirror.addr])]);
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(None)).await;
    load(&proxy, 10).await;
    // A 503 is an answer: the shadow was sent.
    until_shadows(&proxy, [10, 0, 0]).await;
    assert_eq!(mirror.hits(), 10);
}

#[tokio::test]
async fn a_mirror_that_refuses_connections_counts_failed_shadows() {
    let main = Upstream::named("a").await;
    let closed = closed_port().await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[closed])]);
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(None)).await;
    load(&proxy, 3).await;
    until_shadows(&proxy, [0, 3, 0]).await;
}

#[tokio::test]
async fn a_mirror_cluster_without_endpoints_counts_dropped_shadows() {
    let main = Upstream::named("a").await;
    let mut snapshot = snapshot(&[("a", &[main.addr]), ("m", &[main.addr])]);
    snapshot.endpoints.remove("m");
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(None)).await;
    load(&proxy, 2).await;
    until_shadows(&proxy, [0, 0, 2]).await;
    assert_eq!(main.hits(), 2);
}

#[tokio::test]
async fn past_max_shadows_in_flight_shadows_are_dropped() {
    let main = Upstream::named("a").await;
    let stuck = silent().await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[stuck.addr])]);
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(None)).await;
    load(&proxy, MAX_SHADOWS + 2).await;
    // The first MAX_SHADOWS are in flight for their whole lifetime; the last two found no room.
    until_shadows(&proxy, [0, 0, 2]).await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while stuck.hits() < MAX_SHADOWS {
        assert!(tokio::time::Instant::now() < deadline, "{}", stuck.hits());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(stuck.hits(), MAX_SHADOWS);
    assert_eq!(main.hits(), MAX_SHADOWS + 2);
}

#[tokio::test]
async fn a_full_circuit_breaker_drops_shadows() {
    let main = Upstream::named("a").await;
    let stuck = silent().await;
    let thresholds = Thresholds {
        max_connections: 1,
        max_pending_requests: 0,
        ..Thresholds::default()
    };
    let snapshot = with_thresholds(
        snapshot(&[("a", &[main.addr]), ("m", &[stuck.addr])]),
        thresholds,
    );
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(None)).await;
    load(&proxy, 1).await;
    // The first shadow holds the one connection; the next ones may not even wait for it.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while stuck.hits() < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no shadow arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    load(&proxy, 2).await;
    until_shadows(&proxy, [0, 0, 2]).await;
    assert_eq!(stuck.hits(), 1);
}

#[tokio::test]
async fn a_shadow_cut_off_from_its_body_counts_dropped() {
    let main = Upstream::start(|request: Request<Incoming>| async move {
        let body = http_body_util::BodyExt::collect(request.into_body()).await;
        let size = body.map(|b| b.to_bytes().len()).unwrap_or_default();
        http::Response::new(body::full(size.to_string()))
    })
    .await;
    // Takes the request but never reads its body, nor answers.
    let stuck = silent().await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[stuck.addr])]);
    // The route timeout bounds the shadow's life, after which it is counted.
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(Some("2s"))).await;
    let mut client = proxy.h1_client().await;
    let size = 16 * SHADOW_BODY_BUFFER;
    let request = Request::post("/upload")
        .header("host", "shop")
        .body(body::full(vec![b'y'; size]))
        .unwrap();
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, size.to_string());
    until_shadows(&proxy, [0, 0, 1]).await;
    assert_eq!(stuck.hits(), 1);
}

/// An HTTP/1.1 upstream that answers 200 and closes a keep-alive connection left idle for
/// `idle`, as a sidecar's inbound listener does (hyper's header read timeout, 30 s there).
struct Closing {
    addr: std::net::SocketAddr,
    hits: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
}

impl Closing {
    async fn start(idle: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let (counter, opened, ended) = (
            Arc::clone(&hits),
            Arc::clone(&accepted),
            Arc::clone(&closed),
        );
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                opened.fetch_add(1, Ordering::SeqCst);
                let (counter, ended) = (Arc::clone(&counter), Arc::clone(&ended));
                tokio::spawn(async move {
                    let service = service_fn(move |_: Request<Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        async { Ok::<_, std::convert::Infallible>(text(200, "closing")) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(idle)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                    ended.fetch_add(1, Ordering::SeqCst);
                });
            }
        });
        Self {
            addr,
            hits,
            accepted,
            closed,
        }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// Waits until every connection it accepted is closed.
    async fn until_all_closed(&self) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let accepted = self.accepted.load(Ordering::SeqCst);
            if accepted > 0 && self.closed.load(Ordering::SeqCst) == accepted {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "connections stay open"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test]
async fn shadows_after_the_mirror_closed_its_idle_connections_all_arrive() {
    let main = Upstream::named("a").await;
    let mirror = Closing::start(Duration::from_millis(200)).await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[mirror.addr])]);
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(None)).await;
    load(&proxy, 10).await;
    until_shadows(&proxy, [10, 0, 0]).await;
    mirror.until_all_closed().await;
    load(&proxy, 10).await;
    until_shadows(&proxy, [20, 0, 0]).await;
    assert_eq!(mirror.hits(), 20);
}

#[tokio::test]
async fn shadows_after_the_mirror_cluster_was_replaced_all_arrive() {
    let main = Upstream::named("a").await;
    let old = Upstream::named("old").await;
    let new = Upstream::named("new").await;
    let first = snapshot(&[("a", &[main.addr]), ("m", &[old.addr])]);
    let proxy = Proxy::h1(first, &mirrored_to_m(None)).await;
    load(&proxy, 10).await;
    until_shadows(&proxy, [10, 0, 0]).await;
    // A config update recompiles `m` and moves its endpoint, as a DestinationRule change does.
    let second = snapshot(&[("a", &[main.addr]), ("m", &[new.addr])]);
    proxy
        .ctx
        .store
        .update(|snapshot| {
            *snapshot = second.clone();
            Ok::<_, std::convert::Infallible>(())
        })
        .unwrap();
    load(&proxy, 10).await;
    until_shadows(&proxy, [20, 0, 0]).await;
    assert_eq!((old.hits(), new.hits()), (10, 10));
}

/// An HTTP/1.1 upstream whose keep-alive connections each answer one request, and close on the
/// next one without an answer: what the proxy sees when it writes a request on a pooled
/// connection that the upstream closed (an idle timeout) before the close reached the proxy.
/// Counts the requests it answered.
async fn closes_reused_connections() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&answered);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer_once(stream, Arc::clone(&counter)));
        }
    });
    (addr, answered)
}

/// Answers the first request head on `stream` with a keep-alive 200, then closes once the
/// next request head has arrived.
async fn answer_once(mut stream: TcpStream, answered: Arc<AtomicUsize>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    for answer in [true, false] {
        // Bodyless requests: a head ends at the first blank line.
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        head.clear();
        if answer {
            let response = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if stream.write_all(response).await.is_err() {
                return;
            }
            answered.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[tokio::test]
async fn a_shadow_written_on_a_connection_the_mirror_closed_is_sent_again() {
    let main = Upstream::named("a").await;
    let (mirror, answered) = closes_reused_connections().await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[mirror])]);
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(None)).await;
    for sent in 1..=10 {
        load(&proxy, 1).await;
        // One at a time, so that each shadow finds the previous one's connection idle.
        until_shadows(&proxy, [sent, 0, 0]).await;
    }
    assert_eq!(answered.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn a_shadow_is_sent_again_once_at_most() {
    let main = Upstream::named("a").await;
    // Reads each request head and closes without an answer.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mirror = listener.local_addr().unwrap();
    let heads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&heads);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            if matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[mirror])]);
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(None)).await;
    load(&proxy, 1).await;
    until_shadows(&proxy, [0, 1, 0]).await;
    assert_eq!(heads.load(Ordering::SeqCst), 2);
}
