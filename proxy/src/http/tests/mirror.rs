//! Request mirroring: shadows to the mirror cluster, and a main request they never hold up.

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::support::*;
use crate::http::{ProxyBody, SHADOW_BODY_BUFFER, body};

/// Everything to `a`, mirrored to each `(cluster, numerator of 100)`.
fn mirrored(mirrors: &[(&str, u32)]) -> String {
    let policies: Vec<String> = mirrors
        .iter()
        .map(|(cluster, n)| {
            format!(
                "{{ cluster: {cluster}, runtime_fraction: {{ default_value: {{ numerator: {n} }} }}, trace_sampled: false }}"
            )
        })
        .collect();
    format!(
        "name: r\nvirtual_hosts: [ {{ name: v, domains: ['*'], routes: [ \
         {{ match: {{ prefix: / }}, route: {{ cluster: a, request_mirror_policies: [ {} ] }} }} ] }} ]",
        policies.join(", ")
    )
}

/// Waits until `done` holds, failing the test after [`PATIENCE`].
async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

/// Reads the whole request body, counting bytes into `read` as they arrive, and answers with
/// the count.
async fn count_body(request: Request<Incoming>, read: Arc<AtomicUsize>) -> Response<ProxyBody> {
    let mut body = request.into_body();
    let mut total = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            total += data.len();
            read.fetch_add(data.len(), Ordering::SeqCst);
        }
    }
    Response::new(body::full(total.to_string()))
}

fn counting() -> (
    Arc<AtomicUsize>,
    impl Fn(Request<Incoming>) -> futures_util::future::BoxFuture<'static, Response<ProxyBody>>
    + Clone
    + Send
    + Sync
    + 'static,
) {
    let read = Arc::new(AtomicUsize::new(0));
    let shared = Arc::clone(&read);
    let handler = move |request| {
        let read = Arc::clone(&shared);
        Box::pin(count_body(request, read)) as futures_util::future::BoxFuture<'static, _>
    };
    (read, handler)
}

#[tokio::test]
async fn every_request_sends_one_shadow_with_the_shadow_host() {
    let main = Upstream::named("a").await;
    let mut shadow = Upstream::named("m").await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[shadow.addr])]);
    let proxy = Proxy::h1(snapshot, &mirrored(&[("m", 100)])).await;
    for host in ["shop", "shop:8080", "shop:8080"] {
        let response = proxy.get(host, "/cart?x=1").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text_of(response).await, "a");
    }
    let mut hosts = Vec::new();
    for _ in 0..3 {
        let seen = shadow.next().await;
        assert_eq!(seen.method, http::Method::GET);
        assert_eq!(seen.uri.path_and_query().unwrap().as_str(), "/cart?x=1");
        assert_eq!(seen.headers["x-forwarded-proto"], "http");
        hosts.push(seen.headers["host"].to_str().unwrap().to_owned());
    }
    hosts.sort();
    assert_eq!(
        hosts,
        ["shop-shadow", "shop-shadow:8080", "shop-shadow:8080"]
    );
    assert_eq!(main.hits(), 3);
    assert_eq!(shadow.hits(), 3);
}

#[tokio::test]
async fn a_zero_percent_mirror_sends_nothing() {
    let main = Upstream::named("a").await;
    let never = Upstream::named("zero").await;
    let always = Upstream::named("all").await;
    let snapshot = snapshot(&[
        ("a", &[main.addr]),
        ("zero", &[never.addr]),
        ("all", &[always.addr]),
    ]);
    let proxy = Proxy::h1(snapshot, &mirrored(&[("zero", 0), ("all", 100)])).await;
    for _ in 0..20 {
        assert_eq!(proxy.get("shop", "/").await.status(), StatusCode::OK);
    }
    // Both mirrors are decided together: once every 100% shadow arrived, none at 0% is owed.
    until("every 100% shadow arrives", || always.hits() == 20).await;
    assert_eq!(never.hits(), 0);
    assert_eq!(main.hits(), 20);
}

#[tokio::test]
async fn a_down_mirror_cluster_leaves_the_main_response_alone() {
    let main = Upstream::named("a").await;
    let closed = closed_port().await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[closed])]);
    let mut proxy = Proxy::h1(snapshot, &mirrored(&[("m", 100)])).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, "a");
    let log = proxy.log().await;
    assert_eq!(log["response_code"], 200);
    assert_eq!(log["response_flags"], "-");
    assert_eq!(log["upstream_cluster"], "a");
}

#[tokio::test]
async fn a_mirror_that_never_answers_does_not_hold_the_main_request() {
    let main = Upstream::named("a").await;
    let silent = Upstream::start(|_| async {
        std::future::pending::<()>().await;
        text(200, "never")
    })
    .await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[silent.addr])]);
    let proxy = Proxy::h1(snapshot, &mirrored(&[("m", 100)])).await;
    for _ in 0..2 {
        let response = proxy.get("shop", "/").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(text_of(response).await, "a");
    }
    until("both shadows reach the silent mirror", || {
        silent.hits() == 2
    })
    .await;
}

#[tokio::test]
async fn a_large_streamed_body_reaches_both_whole() {
    const CHUNK: usize = 64 * 1024;
    const CHUNKS: usize = 64;
    let (main_read, main_handler) = counting();
    let (shadow_read, shadow_handler) = counting();
    let main = Upstream::start(main_handler).await;
    let shadow = Upstream::start(shadow_handler).await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[shadow.addr])]);
    let proxy = Proxy::h1(snapshot, &mirrored(&[("m", 100)])).await;
    let mut client = proxy.h1_client().await;
    let (tx, body) = channel_body();
    let request = Request::post("/upload")
        .header("host", "shop")
        .body(body)
        .unwrap();
    let sending = tokio::spawn(async move { client.send_request(request).await });
    for i in 0..CHUNKS {
        within(tx.send(Bytes::from(vec![b'x'; CHUNK])))
            .await
            .unwrap();
        // Paced by both readers, so that the test does not depend on how fast each one is.
        let sent = (i + 1) * CHUNK;
        until("both upstreams read the chunk", || {
            main_read.load(Ordering::SeqCst) == sent && shadow_read.load(Ordering::SeqCst) == sent
        })
        .await;
    }
    drop(tx);
    let response = within(sending).await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, (CHUNK * CHUNKS).to_string());
    assert_eq!(shadow_read.load(Ordering::SeqCst), CHUNK * CHUNKS);
}

#[tokio::test]
async fn a_shadow_that_cannot_keep_up_is_dropped_and_the_main_body_flows() {
    let (main_read, main_handler) = counting();
    let main = Upstream::start(main_handler).await;
    // Takes the request but never reads its body, nor answers.
    let stuck = Upstream::start(|_| async {
        std::future::pending::<()>().await;
        text(200, "never")
    })
    .await;
    let snapshot = snapshot(&[("a", &[main.addr]), ("m", &[stuck.addr])]);
    let proxy = Proxy::h1(snapshot, &mirrored(&[("m", 100)])).await;
    let mut client = proxy.h1_client().await;
    // Past what the loopback socket buffers and the shadow's queue can hold together.
    let size = 16 * SHADOW_BODY_BUFFER;
    let request = Request::post("/upload")
        .header("host", "shop")
        .body(body::full(vec![b'y'; size]))
        .unwrap();
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, size.to_string());
    assert_eq!(main_read.load(Ordering::SeqCst), size);
    until("the shadow reaches the stuck mirror", || stuck.hits() == 1).await;
}
