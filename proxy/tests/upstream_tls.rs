//! TLS origination: clusters with an `UpstreamTlsContext`, served by the real data plane from a
//! bootstrap, against TLS upstreams on loopback with certificates made for the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tls_support;

use std::{net::SocketAddr, path::Path, sync::Arc};

use mesh_proxy::{
    access_log::AccessLog,
    bootstrap::Bootstrap,
    capture::OriginalDst,
    config::ConfigStore,
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
};

use self::tls_support::{
    CLIENT_ID, PATIENCE, Pki, SERVER_ID, SERVER_NAME, Seen, Serve, bootstrap, mutual, tls_cluster,
    trusting,
};

/// Envoy's `UF` body.
const CONNECTION_FAILURE: &str = "upstream connect error or disconnect/reset before headers. reset reason: remote connection failure";

/// The data plane serving a bootstrap, with its access log lines.
struct Proxy {
    plane: DataPlane,
    http: Arc<HttpContext>,
    log: mpsc::Receiver<String>,
}

impl Proxy {
    async fn start(yaml: &str) -> Self {
        let bootstrap = Bootstrap::parse(yaml, Path::new("tls.yaml")).unwrap();
        let store = Arc::new(ConfigStore::new(bootstrap.static_snapshot));
        let (access_log, log) = AccessLog::channel(64);
        let http = Arc::new(HttpContext::with_access_log(Arc::clone(&store), access_log));
        let options = ServeOptions {
            original_dst: OriginalDst::Socket,
            bind_ip: Some("127.0.0.1".parse().unwrap()),
            port_overrides: [("http".to_owned(), 0), ("tcp".to_owned(), 0)].into(),
        };
        let plane = DataPlane::start(store, Arc::clone(&http), options);
        tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
        Self { plane, http, log }
    }

    /// `GET /<path>` through the HTTP listener: the status and body.
    async fn get(&self, path: &str) -> (u16, String) {
        let request = format!("GET /{path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
        let text = exchange(self.plane.bound()["http"], request.as_bytes()).await;
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_owned())
    }

    /// The next access log line's `response_flags`.
    async fn next_flags(&mut self) -> String {
        let line = tokio::time::timeout(PATIENCE, self.log.recv())
            .await
            .unwrap()
            .unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
        entry["response_flags"].as_str().unwrap().to_owned()
    }

    /// The connect failures counted for `cluster`.
    fn connect_failures(&self, cluster: &str) -> u64 {
        let stats = &self.http.telemetry().stats;
        stats
            .upstream_connections()
            .cluster(cluster)
            .stats()
            .connect_failures
    }
}

async fn exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8(out).unwrap()
}

async fn seen(views: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(PATIENCE, views.recv())
        .await
        .unwrap()
        .unwrap()
}

fn yaml(clusters: &[(String, String)]) -> String {
    bootstrap(1, 2, &clusters[0].0, &[], clusters)
}

#[tokio::test]
async fn http1_upstream_over_tls_sees_the_configured_sni() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &["h2", "http/1.1"], false).await;
    let tls = trusting(&pki, "ca.pem", "");
    let mut proxy = Proxy::start(&yaml(&[tls_cluster("good", upstream, false, &tls)])).await;
    assert_eq!(proxy.get("good").await, (200, "tls:HTTP/1.1".to_owned()));
    let seen = seen(&mut views).await;
    assert_eq!(
        (seen.sni.as_deref(), seen.alpn, seen.client_ids),
        (Some(SERVER_NAME), None, None)
    );
    // Envoy's client default: TLS 1.2 only.
    assert_eq!(seen.version, "Some(TLSv1_2)");
    assert_eq!(proxy.next_flags().await, "-");
}

#[tokio::test]
async fn http2_clusters_offer_h2_by_alpn() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &["h2", "http/1.1"], false).await;
    let tls = trusting(&pki, "ca.pem", "");
    let proxy = Proxy::start(&yaml(&[tls_cluster("h2", upstream, true, &tls)])).await;
    assert_eq!(proxy.get("h2").await, (200, "tls:HTTP/2.0".to_owned()));
    assert_eq!(seen(&mut views).await.alpn.as_deref(), Some("h2"));
    // A second request reuses the pooled TLS connection: no new handshake.
    assert_eq!(proxy.get("h2").await, (200, "tls:HTTP/2.0".to_owned()));
    assert!(views.try_recv().is_err());
}

#[tokio::test]
async fn configured_alpn_protocols_are_offered_instead_of_h2() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &["h2", "http/1.1"], false).await;
    let tls = format!(
        "sni: {SERVER_NAME}, common_tls_context: {{alpn_protocols: [http/1.1], \
         validation_context: {{trusted_ca: {{filename: {:?}}}}}}}",
        pki.path("ca.pem")
    );
    let proxy = Proxy::start(&yaml(&[tls_cluster("pinned", upstream, false, &tls)])).await;
    assert_eq!(proxy.get("pinned").await, (200, "tls:HTTP/1.1".to_owned()));
    assert_eq!(seen(&mut views).await.alpn.as_deref(), Some("http/1.1"));
}

#[tokio::test]
async fn tls_params_choose_the_versions_and_cipher_suites_offered() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &[], false).await;
    let with_params = |params: &str| {
        format!(
            "sni: {SERVER_NAME}, common_tls_context: {{tls_params: {{{params}}}, \
             validation_context: {{trusted_ca: {{filename: {:?}}}}}}}",
            pki.path("ca.pem")
        )
    };
    let clusters = [
        tls_cluster(
            "tls13",
            upstream,
            false,
            &with_params("tls_maximum_protocol_version: TLSv1_3"),
        ),
        tls_cluster(
            "aes256",
            upstream,
            false,
            &with_params("cipher_suites: [ECDHE-ECDSA-AES256-GCM-SHA384]"),
        ),
    ];
    let proxy = Proxy::start(&yaml(&clusters)).await;
    assert_eq!(proxy.get("tls13").await, (200, "tls:HTTP/1.1".to_owned()));
    assert_eq!(seen(&mut views).await.version, "Some(TLSv1_3)");
    assert_eq!(proxy.get("aes256").await, (200, "tls:HTTP/1.1".to_owned()));
    let seen = seen(&mut views).await;
    assert_eq!(
        (seen.version.as_str(), seen.suite.as_str()),
        (
            "Some(TLSv1_2)",
            "Some(TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)"
        )
    );
}

#[tokio::test]
async fn mutual_tls_presents_the_configured_client_certificate() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &[], true).await;
    let mut proxy = Proxy::start(&yaml(&[tls_cluster(
        "mtls",
        upstream,
        false,
        &mutual(&pki),
    )]))
    .await;
    assert_eq!(proxy.get("mtls").await, (200, "tls:HTTP/1.1".to_owned()));
    assert_eq!(
        seen(&mut views).await.client_ids,
        Some(vec![CLIENT_ID.to_owned()])
    );
    assert_eq!(proxy.next_flags().await, "-");
}

#[tokio::test]
async fn a_server_that_requires_a_client_certificate_refuses_a_cluster_without_one() {
    let pki = Pki::new();
    let (upstream, _views) = pki.upstream(Serve::Http, &[], true).await;
    let tls = trusting(&pki, "ca.pem", "");
    let mut proxy = Proxy::start(&yaml(&[tls_cluster("anonymous", upstream, false, &tls)])).await;
    let (status, body) = proxy.get("anonymous").await;
    // TLS 1.2: the server refuses during the handshake, a connect failure.
    assert_eq!((status, body.as_str()), (503, CONNECTION_FAILURE));
    assert_eq!(proxy.next_flags().await, "UF");
}

#[tokio::test]
async fn static_secrets_give_the_certificate_and_the_trusted_ca() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &[], true).await;
    let secrets = [
        format!(
            "{{name: client-cert, tls_certificate: {{certificate_chain: {{filename: {:?}}}, \
             private_key: {{filename: {:?}}}}}}}",
            pki.path("client.pem"),
            pki.path("client.key")
        ),
        format!(
            "{{name: root-ca, validation_context: {{trusted_ca: {{filename: {:?}}}}}}}",
            pki.path("ca.pem")
        ),
    ];
    let tls = format!(
        "sni: {SERVER_NAME}, common_tls_context: {{tls_certificate_sds_secret_configs: \
         [{{name: client-cert}}], combined_validation_context: {{default_validation_context: \
         {{match_typed_subject_alt_names: [{{san_type: URI, matcher: {{exact: \"{SERVER_ID}\"}}}}]}}, \
         validation_context_sds_secret_config: {{name: root-ca}}}}}}"
    );
    let clusters = [tls_cluster("secrets", upstream, false, &tls)];
    let proxy = Proxy::start(&bootstrap(1, 2, "secrets", &secrets, &clusters)).await;
    assert_eq!(proxy.get("secrets").await, (200, "tls:HTTP/1.1".to_owned()));
    assert_eq!(
        seen(&mut views).await.client_ids,
        Some(vec![CLIENT_ID.to_owned()])
    );
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_a_connect_failure() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &[], false).await;
    let tls = trusting(&pki, "other-ca.pem", "");
    let mut proxy = Proxy::start(&yaml(&[tls_cluster("wrong-ca", upstream, false, &tls)])).await;
    let (status, body) = proxy.get("wrong-ca").await;
    assert_eq!((status, body.as_str()), (503, CONNECTION_FAILURE));
    assert_eq!(proxy.next_flags().await, "UF");
    assert_eq!(proxy.connect_failures("wrong-ca"), 1);
    assert!(views.try_recv().is_err(), "no handshake completed");
}

#[tokio::test]
async fn san_matchers_refuse_a_certificate_without_a_matching_san() {
    let pki = Pki::new();
    let (upstream, _views) = pki.upstream(Serve::Http, &[], false).await;
    let other = "match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: \
                 \"spiffe://cluster.local/ns/default/sa/other\"}}]";
    let right = format!(
        "match_typed_subject_alt_names: [{{san_type: DNS, matcher: {{exact: {SERVER_NAME}}}}}, \
         {{san_type: URI, matcher: {{prefix: \"spiffe://cluster.local/ns/default/\"}}}}]"
    );
    let clusters = [
        tls_cluster(
            "mismatch",
            upstream,
            false,
            &trusting(&pki, "ca.pem", other),
        ),
        tls_cluster(
            "matching",
            upstream,
            false,
            &trusting(&pki, "ca.pem", &right),
        ),
    ];
    let mut proxy = Proxy::start(&yaml(&clusters)).await;
    let (status, body) = proxy.get("mismatch").await;
    assert_eq!((status, body.as_str()), (503, CONNECTION_FAILURE));
    assert_eq!(proxy.next_flags().await, "UF");
    assert_eq!(proxy.connect_failures("mismatch"), 1);
    assert_eq!(
        proxy.get("matching").await,
        (200, "tls:HTTP/1.1".to_owned())
    );
}

#[tokio::test]
async fn accept_untrusted_skips_verification() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &[], false).await;
    let tls = trusting(
        &pki,
        "other-ca.pem",
        "trust_chain_verification: ACCEPT_UNTRUSTED",
    );
    let proxy = Proxy::start(&yaml(&[tls_cluster("insecure", upstream, false, &tls)])).await;
    assert_eq!(
        proxy.get("insecure").await,
        (200, "tls:HTTP/1.1".to_owned())
    );
    assert_eq!(seen(&mut views).await.sni.as_deref(), Some(SERVER_NAME));
}

#[tokio::test]
async fn without_a_validation_context_the_certificate_is_not_verified_as_in_envoy() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &[], false).await;
    // No `sni` either: none is sent.
    let clusters = [tls_cluster(
        "bare",
        upstream,
        false,
        "common_tls_context: {}",
    )];
    let proxy = Proxy::start(&yaml(&clusters)).await;
    assert_eq!(proxy.get("bare").await, (200, "tls:HTTP/1.1".to_owned()));
    assert_eq!(seen(&mut views).await.sni, None);
}

#[tokio::test]
async fn the_tcp_proxy_reaches_a_tls_upstream() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Echo, &[], true).await;
    let clusters = [tls_cluster("tcp-tls", upstream, false, &mutual(&pki))];
    let mut proxy = Proxy::start(&bootstrap(1, 2, "tcp-tls", &[], &clusters)).await;
    let mut stream = TcpStream::connect(proxy.plane.bound()["tcp"])
        .await
        .unwrap();
    stream.write_all(b"hello").await.unwrap();
    stream.shutdown().await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out, b"tls-echo:hello");
    let seen = seen(&mut views).await;
    assert_eq!(
        (seen.sni.as_deref(), seen.alpn, seen.client_ids),
        (Some(SERVER_NAME), None, Some(vec![CLIENT_ID.to_owned()]))
    );
    drop(stream);
    assert_eq!(proxy.next_flags().await, "-");
}

#[tokio::test]
async fn the_tcp_proxy_fails_a_refused_handshake_with_uf() {
    let pki = Pki::new();
    let (upstream, _views) = pki.upstream(Serve::Echo, &[], false).await;
    let clusters = [tls_cluster(
        "tcp-wrong",
        upstream,
        false,
        &trusting(&pki, "other-ca.pem", ""),
    )];
    let mut proxy = Proxy::start(&bootstrap(1, 2, "tcp-wrong", &[], &clusters)).await;
    let mut stream = TcpStream::connect(proxy.plane.bound()["tcp"])
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out, b"");
    assert_eq!(proxy.next_flags().await, "UF");
    assert_eq!(proxy.connect_failures("tcp-wrong"), 1);
}
