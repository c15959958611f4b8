//! TLS termination on filter chains (`DownstreamTlsContext`), served by the real data plane
//! from a bootstrap: HTTP/1.1 and HTTP/2 by ALPN, the chain and certificate chosen by SNI,
//! client certificates required and checked, and TLS in front of a TCP proxy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod downstream_tls_support;

use std::{net::SocketAddr, path::Path, sync::Arc};

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use mesh_proxy::{
    bootstrap::Bootstrap,
    capture::OriginalDst,
    config::ConfigStore,
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use self::downstream_tls_support::{
    Client, PATIENCE, Pki, bootstrap, echo_upstream, http_upstream,
};

/// The data plane serving the shared bootstrap.
struct Proxy {
    plane: DataPlane,
    http: Arc<HttpContext>,
    store: Arc<ConfigStore>,
}

impl Proxy {
    async fn start(pki: &Pki) -> Self {
        let yaml = bootstrap(pki, 1, 2, http_upstream().await, echo_upstream().await);
        let bootstrap = Bootstrap::parse(&yaml, Path::new("tls.yaml")).unwrap();
        let store = Arc::new(ConfigStore::new(bootstrap.static_snapshot));
        let http = Arc::new(HttpContext::new(Arc::clone(&store)));
        let options = ServeOptions {
            original_dst: OriginalDst::Socket,
            bind_ip: Some("127.0.0.1".parse().unwrap()),
            port_overrides: [("https".to_owned(), 0), ("tcps".to_owned(), 0)].into(),
        };
        let plane = DataPlane::start(Arc::clone(&store), Arc::clone(&http), options);
        tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
        Self { plane, http, store }
    }

    fn address(&self, listener: &str) -> SocketAddr {
        self.plane.bound()[listener]
    }

    /// The `mesh_proxy_downstream_tls_handshake_failures_total` lines.
    fn failures(&self) -> Vec<String> {
        self.http
            .telemetry()
            .stats
            .render()
            .lines()
            .filter(|l| l.starts_with("mesh_proxy_downstream_tls_handshake_failures_total"))
            .map(str::to_owned)
            .collect()
    }
}

const A: Client = Client {
    sni: Some("a.example"),
    alpn: &[],
    cert: None,
};
const B: Client = Client {
    sni: Some("b.example"),
    alpn: &[],
    cert: Some("client"),
};

#[tokio::test]
async fn https_speaks_http1_or_h2_as_alpn_agrees() {
    let pki = Pki::new();
    let proxy = Proxy::start(&pki).await;
    let https = proxy.address("https");
    let with_alpn = |alpn| Client { alpn, ..A };
    assert_eq!(
        pki.outcome(https, with_alpn(&["h2", "http/1.1"])).await,
        "200 HTTP/2.0 backend"
    );
    assert_eq!(
        pki.outcome(https, with_alpn(&["http/1.1"])).await,
        "200 HTTP/1.1 backend"
    );
    // No ALPN: the connection manager (codec AUTO) reads the first bytes.
    assert_eq!(pki.outcome(https, A).await, "200 HTTP/1.1 backend");
    // None of ours offered: served without ALPN, as Envoy does, rather than refused.
    let tls = pki.connect(https, with_alpn(&["spdy/3"])).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    assert_eq!(
        pki.outcome(https, with_alpn(&["spdy/3"])).await,
        "200 HTTP/1.1 backend"
    );
    assert_eq!(proxy.failures(), Vec::<String>::new());
}

#[tokio::test]
async fn sni_picks_the_chain_and_its_certificate() {
    let pki = Pki::new();
    let proxy = Proxy::start(&pki).await;
    let https = proxy.address("https");
    // The client checks the certificate against the name it sent: each chain shows its own.
    assert_eq!(pki.outcome(https, A).await, "200 HTTP/1.1 backend");
    assert_eq!(pki.outcome(https, B).await, "200 HTTP/1.1 backend");
    // Chain `b` has no ALPN: h2 is not agreed, so HTTP/1.1 is spoken.
    let tls = pki
        .connect(https, Client { alpn: &["h2"], ..B })
        .await
        .unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), None);
    // No chain for another name, nor for no name: closed before any handshake (`NR`).
    let other = Client {
        sni: Some("c.example"),
        ..A
    };
    assert_eq!(pki.outcome(https, other).await, "failed");
    assert_eq!(
        pki.outcome(https, Client { sni: None, ..A }).await,
        "failed"
    );
    assert_eq!(proxy.failures(), Vec::<String>::new());
}

#[tokio::test]
async fn mutual_tls_requires_a_certificate_from_the_ca_with_the_right_identity() {
    let pki = Pki::new();
    let proxy = Proxy::start(&pki).await;
    let https = proxy.address("https");
    assert_eq!(
        pki.outcome(https, Client { cert: None, ..B }).await,
        "failed"
    );
    let rogue = Client {
        cert: Some("rogue"),
        ..B
    };
    assert_eq!(pki.outcome(https, rogue).await, "failed");
    let stranger = Client {
        cert: Some("stranger"),
        ..B
    };
    assert_eq!(pki.outcome(https, stranger).await, "failed");
    assert_eq!(pki.outcome(https, B).await, "200 HTTP/1.1 backend");
    assert_eq!(
        proxy.failures(),
        ["mesh_proxy_downstream_tls_handshake_failures_total{listener=\"https\"} 3"]
    );
}

#[tokio::test]
async fn tls_in_front_of_a_tcp_proxy() {
    let pki = Pki::new();
    let proxy = Proxy::start(&pki).await;
    let client = Client {
        sni: None,
        alpn: &[],
        cert: None,
    };
    let mut tls = pki.connect(proxy.address("tcps"), client).await.unwrap();
    tls.write_all(b"ping").await.unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0; 64];
    // Bounded: at most 9 bytes are expected, each read waits at most PATIENCE.
    while seen.len() < b"echo:ping".len() {
        let n = tokio::time::timeout(PATIENCE, tls.read(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert_ne!(n, 0, "closed after {:?}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buffer[..n]);
    }
    assert_eq!(seen, b"echo:ping");
    // Plaintext on a TLS chain is not TLS: a fatal `decode_error` alert, counted.
    let mut plain = tokio::net::TcpStream::connect(proxy.address("tcps"))
        .await
        .unwrap();
    plain.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, plain.read_to_end(&mut rest)).await;
    read.unwrap().unwrap();
    assert_eq!(rest, [21, 3, 3, 0, 2, 2, 50]);
    assert_eq!(
        proxy.failures(),
        ["mesh_proxy_downstream_tls_handshake_failures_total{listener=\"tcps\"} 1"]
    );
}

#[tokio::test]
async fn a_listener_update_keeps_established_tls_connections() {
    let pki = Pki::new();
    let proxy = Proxy::start(&pki).await;
    let https = proxy.address("https");
    let tls = pki.connect(https, A).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let get = || {
        http::Request::get("/")
            .header("host", "example")
            .body(Empty::<Bytes>::new())
            .unwrap()
    };
    let status = |r: http::Response<_>| r.status().as_u16();
    assert_eq!(status(sender.send_request(get()).await.unwrap()), 200);

    // Chain `a` goes: new connections for a.example find no chain, the open one carries on.
    proxy
        .store
        .update(|snapshot| {
            let listener = snapshot.listeners.get_mut("https").unwrap();
            Arc::make_mut(listener)
                .filter_chains
                .retain(|c| c.name != "a");
            Ok::<_, ()>(())
        })
        .unwrap();
    assert_eq!(pki.outcome(https, A).await, "failed");
    assert_eq!(pki.outcome(https, B).await, "200 HTTP/1.1 backend");
    assert_eq!(status(sender.send_request(get()).await.unwrap()), 200);
}

#[tokio::test]
async fn a_handshake_longer_than_the_connect_timeout_is_cut_off() {
    let pki = Pki::new();
    let proxy = Proxy::start(&pki).await;
    // A client that connects and says nothing: closed after the chain's 1 s, with nothing sent.
    let mut silent = tokio::net::TcpStream::connect(proxy.address("tcps"))
        .await
        .unwrap();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(PATIENCE, silent.read_to_end(&mut rest)).await;
    assert_eq!(read.unwrap().unwrap(), 0);
    assert_eq!(
        proxy.failures(),
        ["mesh_proxy_downstream_tls_handshake_failures_total{listener=\"tcps\"} 1"]
    );
}
