//! A shadow keeps the whole request body when the main upstream answers before reading it.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use http::{Request, StatusCode};
use hyper::body::Incoming;
use tokio::{io::AsyncWriteExt, net::TcpListener};

use super::{
    shadows::{mirrored_to_m, until_shadows},
    support::*,
};
use crate::http::SHADOW_BODY_BUFFER;

/// Request body chunks: the first goes with the headers, the rest after the response.
const CHUNK: usize = 64 * 1024;

// The whole body is within what may be read for the shadow alone.
const _: () = assert!(3 * CHUNK < SHADOW_BODY_BUFFER);

/// An upstream that answers 200 as soon as it has a request's head, then closes the connection
/// without reading the body.
async fn answers_early() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            read_head(&mut stream).await;
            let _ = stream
                .write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nearly",
                )
                .await;
        }
    });
    addr
}

/// A mirror that reads each request body whole and counts its bytes.
async fn counting_mirror() -> (Upstream, Arc<AtomicUsize>) {
    let bytes = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&bytes);
    let mirror = Upstream::start(move |request: Request<Incoming>| {
        let counted = Arc::clone(&counted);
        async move {
            let body = http_body_util::BodyExt::collect(request.into_body()).await;
            match body {
                Ok(body) => {
                    counted.fetch_add(body.to_bytes().len(), Ordering::SeqCst);
                    text(200, "mirrored")
                }
                Err(_) => text(400, "cut off"),
            }
        }
    })
    .await;
    (mirror, bytes)
}

#[tokio::test]
async fn a_shadow_gets_the_whole_body_the_main_upstream_did_not_read() {
    let main = answers_early().await;
    let (mirror, bytes) = counting_mirror().await;
    let snapshot = snapshot(&[("a", &[main]), ("m", &[mirror.addr])]);
    let proxy = Proxy::h1(snapshot, &mirrored_to_m(Some("5s"))).await;
    let mut client = proxy.h1_client().await;
    let (tx, request_body) = channel_body();
    tx.send(Bytes::from(vec![b'a'; CHUNK])).await.unwrap();
    let request = Request::post("/upload")
        .header("host", "shop")
        .body(request_body)
        .unwrap();
    let response = within(client.send_request(request)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text_of(response).await, "early");
    // The main request is over; the rest of the body is for the shadow alone.
    for fill in [b'b', b'c'] {
        within(tx.send(Bytes::from(vec![fill; CHUNK])))
            .await
            .unwrap();
    }
    drop(tx);
    until_shadows(&proxy, [1, 0, 0]).await;
    assert_eq!(bytes.load(Ordering::SeqCst), 3 * CHUNK);
    assert_eq!(mirror.hits(), 1);
}
