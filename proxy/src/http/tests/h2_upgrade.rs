//! A cluster upgraded to HTTP/2 (DestinationRule `h2UpgradePolicy: UPGRADE`): an HTTP/1.1
//! client, the outbound proxy speaking HTTP/2 to a second proxy's inbound side (codec `AUTO`),
//! and an HTTP/1.1 application behind it.

use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::support::*;
use crate::{config::UpstreamProtocol, http::body};

/// Echoes the request body after `pong:`, with an end-to-end header and hop-by-hop ones.
async fn application(request: Request<Incoming>) -> Response<crate::http::ProxyBody> {
    let received = request.into_body().collect().await.unwrap().to_bytes();
    let mut reply = b"pong:".to_vec();
    reply.extend_from_slice(&received);
    Response::builder()
        .status(StatusCode::CREATED)
        .header("x-reply", "yes")
        .header("connection", "x-secret")
        .header("x-secret", "hop")
        .header("keep-alive", "timeout=5")
        .body(body::full(reply))
        .unwrap()
}

#[tokio::test]
async fn an_http1_request_crosses_an_http2_hop_between_two_proxies_intact() {
    let mut app = Upstream::start(application).await;
    // The receiving sidecar: codec AUTO, its detection saw the HTTP/2 preface.
    let mut inbound = Proxy::h2(
        one_cluster(app.addr, UpstreamProtocol::Http1),
        &to_cluster("a"),
    )
    .await;
    let mut outbound = Proxy::h1(
        one_cluster(inbound.addr, UpstreamProtocol::Http2),
        &to_cluster("a"),
    )
    .await;
    let mut client = outbound.h1_client().await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/items?page=2")
        .header("host", "shop:9080")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "for the first proxy only")
        .header("keep-alive", "timeout=5")
        .header("proxy-connection", "keep-alive")
        // Not an upgrade without `Connection: upgrade`, and hop-by-hop all the same.
        .header("upgrade", "h2c")
        .header("x-app", "kept")
        .body(body::full("ping"))
        .unwrap();
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(response.headers()["x-reply"], "yes");
    for hop in ["x-secret", "keep-alive", "upgrade"] {
        assert_eq!(response.headers().get(hop), None, "{hop}");
    }
    assert_eq!(text_of(response).await, "pong:ping");

    let seen = app.next().await;
    assert_eq!(seen.version, Version::HTTP_11);
    assert_eq!(seen.method, Method::POST);
    assert_eq!(seen.uri.to_string(), "/items?page=2");
    assert_eq!(seen.headers["host"], "shop:9080");
    assert_eq!(seen.headers["x-app"], "kept");
    for hop in [
        "connection",
        "x-hop",
        "keep-alive",
        "proxy-connection",
        "upgrade",
    ] {
        assert_eq!(seen.headers.get(hop), None, "{hop}");
    }
    assert_eq!(app.hits(), 1);
    assert_eq!(outbound.log().await["protocol"], "HTTP/1.1");
    assert_eq!(inbound.log().await["protocol"], "HTTP/2");
}

/// HTTP/2 has no `Upgrade`: an upgrade through an HTTP/2 cluster goes over HTTP/1.1, with
/// `Connection: upgrade` and `Upgrade` kept for that hop.
#[tokio::test]
async fn an_upgrade_through_an_http2_cluster_keeps_its_upgrade_headers() {
    let app = websocket_echo().await;
    let proxy = Proxy::h1(one_cluster(app, UpstreamProtocol::Http2), &to_cluster("a")).await;
    let mut stream = TcpStream::connect(proxy.addr).await.unwrap();
    stream
        .write_all(
            b"GET /ws HTTP/1.1\r\nhost: shop\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n",
        )
        .await
        .unwrap();
    let head = within(read_head(&mut stream)).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101 "), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    stream.write_all(b"hello").await.unwrap();
    let mut echoed = [0u8; 5];
    within(stream.read_exact(&mut echoed)).await.unwrap();
    assert_eq!(&echoed, b"hello");
}
