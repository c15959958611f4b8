use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// The ClientHello curl (OpenSSL 3) sent for `https://api.bookinfo.example/` with `--http2`.
const CURL_HELLO: &[u8] = include_bytes!("testdata/curl_client_hello.bin");

fn tls(sni: Option<&str>, alpn: &[&str]) -> Detection {
    Detection::Done(Protocol::Tls {
        sni: sni.map(str::to_owned),
        alpn: alpn.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// A ClientHello built field by field: one record holding one handshake message.
fn hello(extensions: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend([7; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    let mut ext = Vec::new();
    for (kind, data) in extensions {
        ext.extend(kind.to_be_bytes());
        ext.extend((data.len() as u16).to_be_bytes());
        ext.extend(data);
    }
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut handshake = vec![1, 0];
    handshake.extend((body.len() as u16).to_be_bytes());
    handshake.extend(body);
    let mut record = vec![22, 3, 1];
    record.extend((handshake.len() as u16).to_be_bytes());
    record.extend(handshake);
    record
}

fn sni_ext(name: &[u8]) -> (u16, Vec<u8>) {
    let mut entry = vec![0];
    entry.extend((name.len() as u16).to_be_bytes());
    entry.extend(name);
    let mut data = (entry.len() as u16).to_be_bytes().to_vec();
    data.extend(entry);
    (0, data)
}

fn alpn_ext(names: &[&[u8]]) -> (u16, Vec<u8>) {
    let mut list = Vec::new();
    for name in names {
        list.push(name.len() as u8);
        list.extend(*name);
    }
    let mut data = (list.len() as u16).to_be_bytes().to_vec();
    data.extend(list);
    (16, data)
}

#[test]
fn a_real_client_hello_gives_its_sni_and_alpn() {
    assert_eq!(
        detect(CURL_HELLO),
        tls(Some("api.bookinfo.example"), &["h2", "http/1.1"])
    );
}

#[test]
fn every_truncation_of_a_client_hello_needs_more() {
    for n in 1..CURL_HELLO.len() {
        assert_eq!(detect(&CURL_HELLO[..n]), Detection::NeedMore, "{n} bytes");
    }
}

#[test]
fn a_client_hello_split_across_records_is_reassembled() {
    let whole = hello(&[sni_ext(b"Reviews.Default.svc"), alpn_ext(&[b"h2"])]);
    let handshake = &whole[5..];
    let (first, second) = handshake.split_at(10);
    let mut split = vec![22, 3, 1, 0, first.len() as u8];
    split.extend(first);
    split.extend([22, 3, 1]);
    split.extend((second.len() as u16).to_be_bytes());
    split.extend(second);
    assert_eq!(detect(&split), tls(Some("reviews.default.svc"), &["h2"]));
    assert_eq!(detect(&split[..split.len() - 1]), Detection::NeedMore);
}

#[test]
fn client_hellos_without_names_are_still_tls() {
    assert_eq!(detect(&hello(&[])), tls(None, &[]));
    assert_eq!(detect(&hello(&[(0xff01, vec![0])])), tls(None, &[]));
    // A name with a space or a NUL is not a host name to route by.
    assert_eq!(detect(&hello(&[sni_ext(b"a b")])), tls(None, &[]));
    assert_eq!(detect(&hello(&[sni_ext(b"")])), tls(None, &[]));
    // An ALPN name that is not UTF-8 is left out; the rest stay, in order.
    assert_eq!(
        detect(&hello(&[alpn_ext(&[b"\xff\xfe", b"http/1.1"])])),
        tls(None, &["http/1.1"])
    );
}

#[test]
fn malformed_client_hellos_are_opaque() {
    let opaque = Detection::Done(Protocol::Opaque);
    // An extension whose length runs past the list.
    let mut bad = hello(&[sni_ext(b"x.example")]);
    let at = bad.len() - sni_ext(b"x.example").1.len() - 1;
    bad[at] = 0xff;
    assert_eq!(detect(&bad), opaque);
    // An empty ALPN name.
    assert_eq!(detect(&hello(&[alpn_ext(&[b""])])), opaque);
    // Not a ClientHello: a ServerHello (2), then a change_cipher_spec record (20).
    assert_eq!(detect(&[22, 3, 3, 0, 4, 2, 0, 0, 0]), opaque);
    assert_eq!(detect(&[20, 3, 3, 0, 1, 1]), opaque);
    // Record versions other than 3.0 to 3.4, zero and oversized records.
    assert_eq!(detect(&[22, 2, 0]), opaque);
    assert_eq!(detect(&[22, 3, 9]), opaque);
    assert_eq!(detect(&[22, 3, 1, 0, 0]), opaque);
    assert_eq!(detect(&[22, 3, 1, 0x40, 1]), opaque);
}

#[test]
fn a_huge_declared_client_hello_is_tls_without_names() {
    assert_eq!(
        detect(&[22, 3, 1, 0x40, 0, 1, 0xff, 0xff, 0xff]),
        tls(None, &[])
    );
    assert_eq!(
        detect(&[22, 3, 1, 0x40, 0, 1, 0, 0x40, 0x01]),
        tls(None, &[])
    );
    // Exactly the limit is still read.
    assert_eq!(
        detect(&[22, 3, 1, 0x40, 0, 1, 0, 0x40, 0x00]),
        Detection::NeedMore
    );
}

#[test]
fn http1_request_lines_are_detected_at_the_version() {
    for line in [
        &b"GET / HTTP/1.1\r\nHost: productpage\r\n\r\n"[..],
        b"POST /reviews/0 HTTP/1.0",
        b"CONNECT ratings:9080 HTTP/1.1\r\n",
        b"OPTIONS * HTTP/1.1",
        b"PATCH /x?y=%20 HTTP/1.1",
    ] {
        assert_eq!(detect(line), Detection::Done(Protocol::Http1), "{line:?}");
    }
    let line = b"DELETE /details/1 HTTP/1.1";
    for n in 1..line.len() {
        assert_eq!(detect(&line[..n]), Detection::NeedMore, "{n} bytes");
    }
}

#[test]
fn near_misses_of_http1_are_opaque() {
    for bytes in [
        &b"get / HTTP/1.1"[..],
        b"GETS / HTTP/1.1",
        b"GET  / HTTP/1.1",
        b"GET /\x01 HTTP/1.1",
        b"GET / HTTP/2.0",
        b"GET / HTTP/1.x",
        b"GET / http/1.1",
        b"BREW /pot HTTP/1.1",
        b"\x00\x00\x00\x0e",
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"*1\r\n$4\r\nPING\r\n",
    ] {
        assert_eq!(
            detect(bytes),
            Detection::Done(Protocol::Opaque),
            "{bytes:?}"
        );
    }
}

#[test]
fn the_http2_preface_is_matched_exactly() {
    let preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00";
    assert_eq!(detect(preface), Detection::Done(Protocol::Http2));
    for n in 1..24 {
        assert_eq!(detect(&preface[..n]), Detection::NeedMore, "{n} bytes");
    }
    assert_eq!(
        detect(b"PRI * HTTP/2.0\r\n\r\nXX"),
        Detection::Done(Protocol::Opaque)
    );
}

#[test]
fn nothing_yet_needs_more() {
    assert_eq!(detect(b""), Detection::NeedMore);
}

#[test]
fn hints_follow_istio_protocol_names() {
    use ProtocolHint::*;
    assert_eq!(ProtocolHint::from_protocol("HTTP"), Http1);
    assert_eq!(ProtocolHint::from_protocol("kubernetes.io/h2c"), Http2);
    assert_eq!(ProtocolHint::from_protocol("grpc"), Http2);
    assert_eq!(ProtocolHint::from_protocol("https"), Tls);
    assert_eq!(ProtocolHint::from_protocol("mongo"), Opaque);
    assert_eq!(ProtocolHint::from_protocol("thrift"), Auto);
    assert_eq!(ProtocolHint::from_port_name("http-web"), Http1);
    assert_eq!(ProtocolHint::from_port_name("grpc-web-ui"), Http1);
    assert_eq!(ProtocolHint::from_port_name("grpc-api"), Http2);
    assert_eq!(ProtocolHint::from_port_name("tcp-db"), Opaque);
    assert_eq!(ProtocolHint::from_port_name("web"), Auto);
    assert_eq!(ProtocolHint::for_port(Some("tcp"), Some("http")), Opaque);
    assert_eq!(ProtocolHint::for_port(Some("custom"), Some("http")), Http1);
    assert_eq!(ProtocolHint::for_port(None, None), Auto);
}

async fn read_all<S: tokio::io::AsyncRead + Unpin>(mut stream: S) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    out
}

#[tokio::test(start_paused = true)]
async fn sniffed_bytes_are_replayed_before_the_rest() {
    let (mut client, server) = tokio::io::duplex(64);
    let request = b"GET /productpage HTTP/1.1\r\nHost: productpage\r\n\r\n";
    client.write_all(&request[..10]).await.unwrap();
    let writer = tokio::spawn(async move {
        client.write_all(&request[10..]).await.unwrap();
    });
    let detected = detect_stream(server, 9080, ProtocolHint::Auto, &DetectConfig::default())
        .await
        .unwrap();
    assert_eq!(
        (detected.protocol, detected.reason),
        (Protocol::Http1, Reason::Sniffed)
    );
    writer.await.unwrap();
    assert_eq!(read_all(detected.stream).await, request);
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_opaque_after_the_timeout() {
    let (mut client, server) = tokio::io::duplex(64);
    client.write_all(b"GE").await.unwrap();
    let config = DetectConfig {
        timeout: Duration::from_millis(1500),
        ..DetectConfig::default()
    };
    let started = tokio::time::Instant::now();
    let detected = detect_stream(server, 80, ProtocolHint::Auto, &config)
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(1500));
    assert_eq!(
        (detected.protocol, detected.reason),
        (Protocol::Opaque, Reason::TimedOut)
    );
    assert_eq!(detected.stream.prefix(), b"GE");
    drop(client);
    assert_eq!(read_all(detected.stream).await, b"GE");
}

#[tokio::test(start_paused = true)]
async fn an_undecided_prefix_stops_at_the_buffer_size_or_eof() {
    let (mut client, server) = tokio::io::duplex(64);
    client.write_all(b"GET /aaaaaaaa").await.unwrap();
    let config = DetectConfig {
        max_bytes: 8,
        ..DetectConfig::default()
    };
    let detected = detect_stream(server, 80, ProtocolHint::Auto, &config)
        .await
        .unwrap();
    assert_eq!(detected.reason, Reason::BufferFull);
    assert_eq!(detected.stream.prefix(), b"GET /aaa");

    let (mut client, server) = tokio::io::duplex(64);
    client.write_all(b"PRI * ").await.unwrap();
    drop(client);
    let detected = detect_stream(server, 80, ProtocolHint::Auto, &DetectConfig::default())
        .await
        .unwrap();
    assert_eq!(
        (detected.protocol, detected.reason),
        (Protocol::Opaque, Reason::Eof)
    );
    assert_eq!(read_all(detected.stream).await, b"PRI * ");
}

#[tokio::test(start_paused = true)]
async fn declared_protocols_and_opaque_ports_read_nothing() {
    for (port, hint, protocol, reason) in [
        (9080, ProtocolHint::Http1, Protocol::Http1, Reason::Declared),
        (9080, ProtocolHint::Http2, Protocol::Http2, Reason::Declared),
        (
            9080,
            ProtocolHint::Opaque,
            Protocol::Opaque,
            Reason::Declared,
        ),
        (
            3306,
            ProtocolHint::Auto,
            Protocol::Opaque,
            Reason::OpaquePort,
        ),
    ] {
        // The client sends nothing: any read would wait for the timeout.
        let (_client, server) = tokio::io::duplex(64);
        let started = tokio::time::Instant::now();
        let detected = detect_stream(server, port, hint, &DetectConfig::default())
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!((detected.protocol, detected.reason), (protocol, reason));
        assert_eq!(detected.stream.prefix(), b"");
    }
}

#[tokio::test(start_paused = true)]
async fn a_declared_tls_port_still_reads_the_client_hello() {
    let (mut client, server) = tokio::io::duplex(1024);
    client.write_all(CURL_HELLO).await.unwrap();
    let detected = detect_stream(server, 3306, ProtocolHint::Tls, &DetectConfig::default())
        .await
        .unwrap();
    assert_eq!(
        Detection::Done(detected.protocol),
        tls(Some("api.bookinfo.example"), &["h2", "http/1.1"])
    );
    assert_eq!(detected.stream.prefix(), CURL_HELLO);

    let (mut client, server) = tokio::io::duplex(1024);
    client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let detected = detect_stream(server, 443, ProtocolHint::Tls, &DetectConfig::default())
        .await
        .unwrap();
    assert_eq!(
        (detected.protocol, detected.reason),
        (Protocol::Opaque, Reason::Mismatch)
    );
}
