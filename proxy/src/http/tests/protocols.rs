//! HTTP/2 and HTTP/1.1 on either side, gRPC trailers, streaming bodies and upgrades.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Version};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
};

use super::support::*;
use crate::{
    config::UpstreamProtocol,
    http::{ProxyBody, body},
    upstream::BoxError,
};

#[tokio::test]
async fn an_http2_client_reaches_an_http1_upstream() {
    let mut upstream = Upstream::named("ok").await;
    let mut proxy = Proxy::h2(
        one_cluster(upstream.addr, UpstreamProtocol::Http1),
        &to_cluster("a"),
    )
    .await;
    let mut client = proxy.h2_client().await;
    let request = h2_get("http://shop:9080/items");
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(text_of(response).await, "ok");
    let seen = upstream.next().await;
    assert_eq!(seen.version, Version::HTTP_11);
    assert_eq!(seen.headers["host"], "shop:9080");
    assert_eq!(seen.uri.to_string(), "/items");
    assert_eq!(proxy.log().await["protocol"], "HTTP/2");
}

#[tokio::test]
async fn an_http1_client_reaches_an_http2_upstream_with_its_authority() {
    let mut upstream = Upstream::named("ok").await;
    let proxy = Proxy::h1(
        one_cluster(upstream.addr, UpstreamProtocol::Http2),
        &to_cluster("a"),
    )
    .await;
    let response = proxy.get("shop:9080", "/items").await;
    assert_eq!(text_of(response).await, "ok");
    let seen = upstream.next().await;
    assert_eq!(seen.version, Version::HTTP_2);
    assert_eq!(seen.uri.authority().unwrap().as_str(), "shop:9080");
    assert_eq!(seen.uri.path(), "/items");
    assert_eq!(seen.method, Method::GET);
}

#[tokio::test]
async fn grpc_trailers_cross_http2_end_to_end() {
    let upstream = Upstream::start(|request: Request<Incoming>| async move {
        let collected = request.into_body().collect().await.unwrap();
        let request_trailers = collected.trailers().cloned().unwrap_or_default();
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().unwrap());
        trailers.insert(
            "x-request-trailer",
            request_trailers
                .get("x-client-trailer")
                .cloned()
                .unwrap_or_else(|| "missing".parse().unwrap()),
        );
        let frames = vec![
            Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"\0\0\0\0\x02hi"))),
            Ok(Frame::trailers(trailers)),
        ];
        let mut response = text(200, "");
        *response.body_mut() = StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync();
        response
            .headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        response
    })
    .await;
    let proxy = Proxy::h2(
        one_cluster(upstream.addr, UpstreamProtocol::Http2),
        &to_cluster("a"),
    )
    .await;
    let mut client = proxy.h2_client().await;
    let mut client_trailers = HeaderMap::new();
    client_trailers.insert("x-client-trailer", "sent".parse().unwrap());
    let frames = vec![
        Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"\0\0\0\0\x00"))),
        Ok(Frame::trailers(client_trailers)),
    ];
    let request: Request<ProxyBody> = Request::builder()
        .method(Method::POST)
        .version(Version::HTTP_2)
        .uri("http://greeter/helloworld.Greeter/SayHello")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync())
        .unwrap();
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/grpc");
    let collected = within(response.into_body().collect()).await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers");
    assert_eq!(trailers["grpc-status"], "0");
    assert_eq!(trailers["x-request-trailer"], "sent");
    assert_eq!(&collected.to_bytes()[..], b"\0\0\0\0\x02hi");
}

#[tokio::test]
async fn request_bodies_stream_without_waiting_for_the_end() {
    let (first_tx, first_rx) = oneshot::channel::<Bytes>();
    let first_tx = std::sync::Arc::new(tokio::sync::Mutex::new(Some(first_tx)));
    let upstream = Upstream::start(move |request: Request<Incoming>| {
        let first_tx = std::sync::Arc::clone(&first_tx);
        async move {
            let mut body = request.into_body();
            let mut total = 0;
            while let Some(frame) = body.frame().await {
                let data = frame.unwrap().into_data().unwrap_or_default();
                total += data.len();
                if let Some(tx) = first_tx.lock().await.take() {
                    let _ = tx.send(data);
                }
            }
            let mut response = text(200, "");
            *response.body_mut() = body::full(total.to_string());
            response
        }
    })
    .await;
    let proxy = Proxy::h1(
        one_cluster(upstream.addr, UpstreamProtocol::Http1),
        &to_cluster("a"),
    )
    .await;
    let mut client = proxy.h1_client().await;
    let (chunks, request_body) = channel_body();
    let request = Request::builder()
        .method(Method::POST)
        .uri("/upload")
        .header("host", "shop")
        .body(request_body)
        .unwrap();
    let response = tokio::spawn(client.send_request(request));
    chunks.send(Bytes::from_static(b"first")).await.unwrap();
    // The upstream has the first chunk while the client still holds the rest of the body.
    let first = within(first_rx).await.unwrap();
    assert_eq!(&first[..], b"first");
    chunks.send(Bytes::from_static(b"-second")).await.unwrap();
    drop(chunks);
    let response = within(response).await.unwrap().unwrap();
    assert_eq!(text_of(response).await, "12");
}

#[tokio::test]
async fn websocket_upgrades_are_spliced_both_ways() {
    let upstream = websocket_echo().await;
    let proxy = Proxy::h1(
        one_cluster(upstream, UpstreamProtocol::Http1),
        &to_cluster("a"),
    )
    .await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nhost: shop\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
    let head = within(read_head(&mut stream)).await;
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    for message in [&b"ping"[..], b"and pong"] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        within(stream.read_exact(&mut echoed)).await.unwrap();
        assert_eq!(echoed, message);
    }
}

#[tokio::test]
async fn a_route_can_turn_upgrades_off() {
    let mut upstream = Upstream::named("plain").await;
    let routes = "
name: r
virtual_hosts:
- name: v
  domains: ['*']
  routes:
  - match: { prefix: / }
    route: { cluster: a, upgrade_configs: [ { upgrade_type: websocket, enabled: false } ] }
";
    let proxy = Proxy::h1(one_cluster(upstream.addr, UpstreamProtocol::Http1), routes).await;
    let mut client = proxy.h1_client().await;
    let mut request = get("shop", "/ws");
    request
        .headers_mut()
        .insert("connection", "upgrade".parse().unwrap());
    request
        .headers_mut()
        .insert("upgrade", "websocket".parse().unwrap());
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(text_of(response).await, "plain");
    let seen = upstream.next().await;
    assert_eq!(seen.headers.get("upgrade"), None);
    assert_eq!(seen.headers.get("connection"), None);
}

#[tokio::test]
async fn use_downstream_protocol_follows_the_client() {
    let mut upstream = Upstream::named("ok").await;
    let snapshot = one_cluster(upstream.addr, UpstreamProtocol::UseDownstream);
    let h2 = Proxy::h2(snapshot.clone(), &to_cluster("a")).await;
    let mut client = h2.h2_client().await;
    text_of(
        within(client.send_request(h2_get("http://shop/")))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(upstream.next().await.version, Version::HTTP_2);

    let h1 = Proxy::h1(snapshot, &to_cluster("a")).await;
    text_of(h1.get("shop", "/").await).await;
    assert_eq!(upstream.next().await.version, Version::HTTP_11);
}
