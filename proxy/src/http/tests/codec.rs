//! `codec_type`: a connection manager speaks exactly the HTTP versions it is configured for.

use http::{StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::support::*;
use crate::config::{Codec, HttpConnectionManager};

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn with_codec(codec: Codec) -> HttpConnectionManager {
    HttpConnectionManager {
        codec,
        ..hcm(&to_cluster("a")).as_ref().clone()
    }
}

/// What the proxy sends before it closes the connection (by a FIN or, with bytes of ours
/// unread, a reset).
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match within(stream.read(&mut buf)).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn an_http1_manager_serves_http1() {
    let upstream = Upstream::named("ok").await;
    let proxy = Proxy::managed(upstream.addr, with_codec(Codec::Http1), false).await;
    let response = proxy.get("shop", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_11);
    assert_eq!(text_of(response).await, "ok");
}

#[tokio::test]
async fn an_http1_manager_closes_an_h2c_connection_without_an_answer() {
    let upstream = Upstream::named("ok").await;
    // The detection saw the preface: `http2` is what it reports.
    let proxy = Proxy::managed(upstream.addr, with_codec(Codec::Http1), true).await;
    let mut raw = TcpStream::connect(proxy.addr).await.unwrap();
    // The proxy may have closed first; what it sends back is what counts.
    let _ = raw.write_all(H2_PREFACE).await;
    assert_eq!(read_to_close(&mut raw).await, b"");

    // A real HTTP/2 client fails in its handshake or on its first request.
    let stream = TcpStream::connect(proxy.addr).await.unwrap();
    if let Ok((mut client, conn)) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await
    {
        tokio::spawn(conn);
        assert!(
            within(client.send_request(h2_get("http://shop/")))
                .await
                .is_err()
        );
    }
    assert_eq!(upstream.hits(), 0);
}

#[tokio::test]
async fn an_http2_manager_serves_prior_knowledge_http2() {
    let upstream = Upstream::named("ok").await;
    let proxy = Proxy::managed(upstream.addr, with_codec(Codec::Http2), true).await;
    let mut client = proxy.h2_client().await;
    let response = within(client.send_request(h2_get("http://shop/")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), Version::HTTP_2);
    assert_eq!(text_of(response).await, "ok");
}

#[tokio::test]
async fn an_http2_manager_does_not_answer_http1() {
    let upstream = Upstream::named("ok").await;
    // The detection saw an HTTP/1.1 request line.
    let proxy = Proxy::managed(upstream.addr, with_codec(Codec::Http2), false).await;
    let mut raw = TcpStream::connect(proxy.addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nhost: shop\r\n\r\n")
        .await
        .unwrap();
    let received = read_to_close(&mut raw).await;
    assert!(
        !received.starts_with(b"HTTP/1."),
        "an HTTP/1 answer: {:?}",
        String::from_utf8_lossy(&received)
    );

    let mut client = proxy.h1_client().await;
    assert!(within(client.send_request(get("shop", "/"))).await.is_err());
    assert_eq!(upstream.hits(), 0);
}

#[test]
fn codec_type_compiles_to_the_codec_served() {
    for (yaml, codec) in [
        ("", Codec::Auto),
        ("codec_type: AUTO", Codec::Auto),
        ("codec_type: HTTP1", Codec::Http1),
        ("codec_type: HTTP2", Codec::Http2),
    ] {
        assert_eq!(compiled_hcm(yaml).codec, codec, "{yaml}");
    }
}

/// The `SETTINGS_MAX_CONCURRENT_STREAMS` (id 3) of the server's first SETTINGS frame, if any.
async fn advertised_streams(proxy: &Proxy) -> Option<u32> {
    let mut raw = TcpStream::connect(proxy.addr).await.unwrap();
    raw.write_all(H2_PREFACE).await.unwrap();
    // An empty SETTINGS frame: length 0, type 4, no flags, stream 0.
    raw.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).await.unwrap();
    let mut head = [0u8; 9];
    within(raw.read_exact(&mut head)).await.unwrap();
    assert_eq!(
        (head[3], head[4]),
        (4, 0),
        "not the server's SETTINGS: {head:?}"
    );
    let length = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
    let mut payload = vec![0u8; length];
    within(raw.read_exact(&mut payload)).await.unwrap();
    payload
        .chunks_exact(6)
        .find(|setting| setting[..2] == [0, 3])
        .map(|setting| u32::from_be_bytes([setting[2], setting[3], setting[4], setting[5]]))
}

#[tokio::test]
async fn http2_max_concurrent_streams_is_advertised_to_http2_clients() {
    let upstream = Upstream::named("ok").await;
    let manager = HttpConnectionManager {
        http2_max_concurrent_streams: Some(3),
        ..with_codec(Codec::Http2)
    };
    let proxy = Proxy::managed(upstream.addr, manager, true).await;
    assert_eq!(advertised_streams(&proxy).await, Some(3));

    // Unset, the server keeps hyper's own limit.
    let proxy = Proxy::managed(upstream.addr, with_codec(Codec::Http2), true).await;
    assert_eq!(advertised_streams(&proxy).await, Some(200));
}
