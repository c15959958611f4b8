//! SDS over ADS for listeners: an HTTPS listener whose certificate comes over SDS, served by
//! the real data plane and fed by the fake control plane in both protocol variants. The
//! listener is not bound until its certificate arrives, a rotated certificate is what new
//! handshakes see while established connections carry on, and a bad certificate is NACKed with
//! the old one still served.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod ads_support;
mod downstream_tls_support;
mod sds_support;
mod tls_support;

use std::{io::ErrorKind, net::SocketAddr, path::Path, sync::Arc};

use bytes::Bytes;
use envoy_types::pb::envoy::{
    config::listener::v3::Listener, extensions::transport_sockets::tls::v3::Secret,
};
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use mesh_proxy::{
    bootstrap::Bootstrap,
    capture::OriginalDst,
    config::ConfigStore,
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
};
use mesh_xds::{json::from_yaml, resource::ResourceType};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use self::{
    ads_support::{Connected, any, delta, sotw},
    downstream_tls_support::{Client, PATIENCE, Pki, http_upstream},
    sds_support::{ADS, delta_summary, summary, tls_certificate},
};

/// The NACK of a certificate with another certificate's key.
const BAD_KEY: &str = "Secret \"server\": tls_certificate.private_key: does not match the \
                       certificate of certificate_chain";

const HCM: &str = r#"{name: envoy.filters.network.http_connection_manager, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, stat_prefix: https, http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}], route_config: {name: https, virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: backend}}]}]}}}"#;

/// A client that checks the server certificate against `a.example`.
const A: Client = Client {
    sni: Some("a.example"),
    alpn: &[],
    cert: None,
};
/// The same for `b.example`.
const B: Client = Client {
    sni: Some("b.example"),
    alpn: &[],
    cert: None,
};

/// The data plane with the static cluster `backend`; listeners come over LDS.
struct Proxy {
    plane: DataPlane,
    store: Arc<ConfigStore>,
}

impl Proxy {
    async fn start(backend: SocketAddr) -> Self {
        let yaml = format!(
            "node: {{id: sds-listener, cluster: sds-listener}}\nstatic_resources:\n  clusters:\n  \
             - {{name: backend, type: STATIC, connect_timeout: 2s, load_assignment: \
             {{cluster_name: backend, endpoints: [{{lb_endpoints: [{{endpoint: {{address: \
             {{socket_address: {{address: {}, port_value: {}}}}}}}}}]}}]}}}}\n",
            backend.ip(),
            backend.port()
        );
        let bootstrap = Bootstrap::parse(&yaml, Path::new("sds-listener.yaml")).unwrap();
        let store = Arc::new(ConfigStore::new(bootstrap.static_snapshot));
        let http = Arc::new(HttpContext::new(Arc::clone(&store)));
        let options = ServeOptions {
            original_dst: OriginalDst::Socket,
            bind_ip: None,
            port_overrides: Default::default(),
        };
        let plane = DataPlane::start(Arc::clone(&store), http, options);
        Self { plane, store }
    }

    /// Waits until every listener of the snapshot is bound.
    async fn ready(&self) {
        tokio::time::timeout(PATIENCE, self.plane.ready())
            .await
            .unwrap();
    }
}

/// A loopback port nothing listens on now (taken from the system, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The HTTPS listener `https` on `port` presenting the SDS certificate `secret`.
fn https(port: u16, secret: &str) -> Listener {
    from_yaml(&format!(
        "{{name: https, address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}, \
         filter_chains: [{{transport_socket: {{name: envoy.transport_sockets.tls, typed_config: \
         {{\"@type\": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.\
         DownstreamTlsContext, common_tls_context: {{tls_certificate_sds_secret_configs: \
         [{{name: {secret}, {ADS}}}]}}}}}}, filters: [{HCM}]}}]}}"
    ))
    .unwrap()
}

/// The SDS secret `name`: the PKI's certificate `cert` with the key of `key`.
fn server_cert(pki: &Pki, name: &str, cert: &str, key: &str) -> Secret {
    tls_certificate(
        name,
        &pki.path(&format!("{cert}.pem")),
        &pki.path(&format!("{key}.key")),
    )
}

/// The leaf certificate of the PKI's `name`.
fn leaf(pki: &Pki, name: &str) -> CertificateDer<'static> {
    CertificateDer::pem_file_iter(pki.path(&format!("{name}.pem")))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
}

/// The certificate the server presented on `tls`.
fn presented(tls: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// An HTTP/1.1 connection kept open over `tls`.
async fn keep(tls: TlsStream<TcpStream>) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

/// `GET /` on an established connection: the status.
async fn get_on(sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>) -> u16 {
    let request = http::Request::get("/")
        .header("host", "example")
        .body(Empty::new())
        .unwrap();
    let response = tokio::time::timeout(PATIENCE, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn sotw_https_listener_warms_until_its_certificate_arrives_and_follows_its_rotation() {
    let pki = Pki::new();
    let proxy = Proxy::start(http_upstream().await).await;
    let Connected {
        control: _control,
        client,
        mut stream,
    } = Connected::sotw(Arc::clone(&proxy.store)).await;

    // The listener is valid: ACKed at once; its certificate is asked for by name, and until
    // it comes nothing listens on its port.
    let port = free_port();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    stream.send(sotw(
        ResourceType::Listener,
        "l1",
        "n1",
        vec![any(https(port, "server"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("Listener", "l1", vec![], "n1", None)
    );
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "", vec!["server"], "", None)
    );
    assert!(!proxy.plane.bound().contains_key("https"));
    let refused = TcpStream::connect(address).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);

    let first = server_cert(&pki, "server", "a.example", "a.example");
    stream.send(sotw(ResourceType::Secret, "s1", "n2", vec![any(first)]));
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "s1", vec!["server"], "n2", None)
    );
    proxy.ready().await;
    assert_eq!(proxy.plane.bound()["https"], address);
    assert_eq!(pki.outcome(address, A).await, "200 HTTP/1.1 backend");

    // An established connection, then a new certificate.
    let established = pki.connect(address, A).await.unwrap();
    assert_eq!(presented(&established), leaf(&pki, "a.example"));
    let mut established = keep(established).await;
    assert_eq!(get_on(&mut established).await, 200);
    let second = server_cert(&pki, "server", "b.example", "b.example");
    stream.send(sotw(ResourceType::Secret, "s2", "n3", vec![any(second)]));
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "s2", vec!["server"], "n3", None)
    );
    let fresh = pki.connect(address, B).await.unwrap();
    assert_eq!(presented(&fresh), leaf(&pki, "b.example"));
    assert_eq!(pki.outcome(address, A).await, "failed", "a.example is gone");
    assert_eq!(pki.outcome(address, B).await, "200 HTTP/1.1 backend");
    assert_eq!(
        get_on(&mut established).await,
        200,
        "the old connection stays"
    );

    // A certificate with another key: NACKed with the last good version, b.example served.
    let bad = server_cert(&pki, "server", "a.example", "b.example");
    stream.send(sotw(ResourceType::Secret, "s3", "n4", vec![any(bad)]));
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "s2", vec!["server"], "n4", Some(BAD_KEY))
    );
    let fresh = pki.connect(address, B).await.unwrap();
    assert_eq!(presented(&fresh), leaf(&pki, "b.example"));
    let status = client.state().load();
    let secrets = &status.types[&ResourceType::Secret];
    assert_eq!((secrets.accepted, secrets.rejected), (2, 1));
    assert_eq!(secrets.resources["server"].version, "s2");
}

#[tokio::test]
async fn delta_updated_listener_serves_its_old_certificate_while_the_new_one_warms() {
    let pki = Pki::new();
    let proxy = Proxy::start(http_upstream().await).await;
    let Connected {
        control: _control,
        client,
        mut stream,
    } = Connected::delta(Arc::clone(&proxy.store)).await;

    let port = free_port();
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    stream.send(delta(
        ResourceType::Listener,
        "n1",
        vec![("https", "1", any(https(port, "a")))],
        &[],
    ));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Listener", "n1", vec![], vec![], None)
    );
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "", vec!["a"], vec![], None)
    );
    let refused = TcpStream::connect(address).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::ConnectionRefused);
    let a = server_cert(&pki, "a", "a.example", "a.example");
    stream.send(delta(
        ResourceType::Secret,
        "n2",
        vec![("a", "1", any(a))],
        &[],
    ));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "n2", vec![], vec![], None)
    );
    proxy.ready().await;
    assert_eq!(pki.outcome(address, A).await, "200 HTTP/1.1 backend");

    // The listener now names secret `b`: ACKed, and until `b` comes, `a` is served.
    stream.send(delta(
        ResourceType::Listener,
        "n3",
        vec![("https", "2", any(https(port, "b")))],
        &[],
    ));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Listener", "n3", vec![], vec![], None)
    );
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "", vec!["b"], vec![], None)
    );
    assert_eq!(pki.outcome(address, A).await, "200 HTTP/1.1 backend");
    let bad = server_cert(&pki, "b", "b.example", "a.example");
    stream.send(delta(
        ResourceType::Secret,
        "n4",
        vec![("b", "1", any(bad))],
        &[],
    ));
    let nack = "Secret \"b\": tls_certificate.private_key: does not match the certificate of \
                certificate_chain";
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "n4", vec![], vec![], Some(nack))
    );
    assert_eq!(pki.outcome(address, A).await, "200 HTTP/1.1 backend");

    // `b` arrives: the new version serves, and `a`, referenced by nothing, is unsubscribed
    // with the next listener update.
    let b = server_cert(&pki, "b", "b.example", "b.example");
    stream.send(delta(
        ResourceType::Secret,
        "n5",
        vec![("b", "1", any(b))],
        &[],
    ));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "n5", vec![], vec![], None)
    );
    let fresh = pki.connect(address, B).await.unwrap();
    assert_eq!(presented(&fresh), leaf(&pki, "b.example"));

    // The listener goes, and its secrets are unsubscribed.
    stream.send(delta(ResourceType::Listener, "n6", vec![], &["https"]));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Listener", "n6", vec![], vec![], None)
    );
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "", vec![], vec!["a", "b"], None)
    );
    let status = client.state().load();
    assert!(status.types[&ResourceType::Secret].resources.is_empty());
}
