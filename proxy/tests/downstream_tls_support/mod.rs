//! What the downstream TLS tests share: a test PKI, a bootstrap whose listeners terminate TLS
//! (one shared by mesh-proxy and Envoy), plaintext upstreams, and a TLS client that reports each
//! request's outcome in one comparable line.

#![allow(dead_code)]

use std::{
    convert::Infallible,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::{
    ClientConfig, RootCertStore,
    crypto::ring,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{TlsConnector, client::TlsStream};

pub mod xfcc;

/// How long any single step of a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The SPIFFE ID of the client certificates `client` and `rogue`.
pub const CLIENT_ID: &str = "spiffe://cluster.local/ns/default/sa/client";
/// The SPIFFE ID of `stranger`, signed by the trusted CA.
pub const STRANGER_ID: &str = "spiffe://cluster.local/ns/default/sa/stranger";
/// The SPIFFE ID of `odd`, signed by the trusted CA, whose subject needs RFC 2253 escapes.
pub const ODD_ID: &str = "spiffe://cluster.local/ns/default/sa/odd";
/// The subject of `odd`, RDNs in certificate order.
pub const ODD_SUBJECT: &[(DnType, &str)] = &[
    (DnType::CountryName, "US"),
    (DnType::OrganizationName, "Acme, Inc. <R&D>; \"x\""),
    (DnType::OrganizationalUnitName, "#team "),
    (DnType::CommonName, " caf\u{e9}+1"),
];

/// The `@type` of a `DownstreamTlsContext`.
const DOWNSTREAM_TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";

/// A test PKI written to a temporary directory: `ca.pem` signed the server certificates
/// `a.example` and `b.example` and the client certificates `client`, `stranger` and `odd`;
/// `other-ca.pem` signed `rogue` (with the same SPIFFE ID as `client`). Each has `<name>.pem`
/// and `<name>.key`.
pub struct Pki {
    dir: tempfile::TempDir,
}

/// What a test client does.
#[derive(Clone, Copy, Debug)]
pub struct Client {
    /// The SNI sent; the server certificate is checked against it (against `a.example` when
    /// none is sent).
    pub sni: Option<&'static str>,
    /// The ALPN protocols offered.
    pub alpn: &'static [&'static str],
    /// The client certificate presented (a name of the PKI), if any.
    pub cert: Option<&'static str>,
}

// === impl Pki ===

impl Pki {
    /// Makes and writes the certificates.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca, other) = (make_ca("test ca"), make_ca("other ca"));
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", ca.pem());
        write("other-ca.pem", other.pem());
        for (name, issuer, dns, uri) in [
            (
                "a.example",
                &ca,
                "a.example",
                "spiffe://cluster.local/ns/default/sa/a",
            ),
            (
                "b.example",
                &ca,
                "b.example",
                "spiffe://cluster.local/ns/default/sa/b",
            ),
            ("client", &ca, "client.example", CLIENT_ID),
            ("stranger", &ca, "stranger.example", STRANGER_ID),
            ("rogue", &other, "client.example", CLIENT_ID),
        ] {
            let (cert, key) = leaf(issuer, dns, uri, &[(DnType::CommonName, dns)]);
            write(&format!("{name}.pem"), cert);
            write(&format!("{name}.key"), key);
        }
        let (cert, key) = leaf(&ca, "odd.example", ODD_ID, ODD_SUBJECT);
        write("odd.pem", cert);
        write("odd.key", key);
        Self { dir }
    }

    /// The path of file `name` in the PKI's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `tls_certificates` entry of certificate `name` (YAML flow mapping).
    fn certificate(&self, name: &str) -> String {
        format!(
            "{{certificate_chain: {{filename: {:?}}}, private_key: {{filename: {:?}}}}}",
            self.path(&format!("{name}.pem")),
            self.path(&format!("{name}.key"))
        )
    }

    /// A filter chain's `transport_socket` presenting certificate `name`, with the
    /// `DownstreamTlsContext` entries `more` and the `common_tls_context` entries `common`.
    pub fn transport_socket(&self, name: &str, more: &str, common: &str) -> String {
        format!(
            "{{name: envoy.transport_sockets.tls, typed_config: {{\"@type\": {DOWNSTREAM_TLS}, \
             {more}common_tls_context: {{tls_certificates: [{}]{common}}}}}}}",
            self.certificate(name)
        )
    }

    /// Connects to `address` as `client` says; the TLS stream, or the error's text.
    pub async fn connect(
        &self,
        address: SocketAddr,
        client: Client,
    ) -> Result<TlsStream<TcpStream>, String> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match client.cert {
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{name}.pem")))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect();
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = client.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        config.enable_sni = client.sni.is_some();
        let name = ServerName::try_from(client.sni.unwrap_or("a.example").to_owned()).unwrap();
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| e.to_string())?;
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())
    }

    /// `GET /` over TLS as `client` says: `<status> <version> <body>`, or `failed` when the
    /// handshake or the request failed (each proxy words its errors its own way).
    pub async fn outcome(&self, address: SocketAddr, client: Client) -> String {
        let attempt = async {
            let tls = self.connect(address, client).await?;
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            get(tls, h2).await
        };
        match tokio::time::timeout(PATIENCE, attempt).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => "failed".to_owned(),
            Err(_) => panic!("{client:?}: no outcome in {PATIENCE:?}"),
        }
    }
}

/// One `GET /` on `tls`, HTTP/2 when `h2`.
async fn get(tls: TlsStream<TcpStream>, h2: bool) -> Result<String, String> {
    let request = Request::get("/")
        .header("host", "example")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let io = TokioIo::new(tls);
    let response = if h2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender.send_request(request).await
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        sender.send_request(request).await
    }
    .map_err(|e| e.to_string())?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok(format!(
        "{} {:?} {}",
        parts.status.as_u16(),
        parts.version,
        String::from_utf8_lossy(&body)
    ))
}

/// An HTTP upstream on loopback answering every request `200` with body `backend`.
pub async fn http_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|_: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"backend"))))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    address
}

/// A TCP upstream on loopback that writes `echo:`, then echoes until end of stream.
pub async fn echo_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                if tcp.write_all(b"echo:").await.is_err() {
                    return;
                }
                let mut buffer = [0; 1024];
                // Bounded by the peer, which closes when done.
                while let Ok(n) = tcp.read(&mut buffer).await {
                    if n == 0 || tcp.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    address
}

/// A bootstrap (Envoy's YAML) with two listeners on loopback:
///
/// - `https` on `https_port` (with `tls_inspector`): SNI `a.example` → certificate `a.example`,
///   ALPN `h2`/`http/1.1`; SNI `b.example` → certificate `b.example`, a client certificate from
///   `ca.pem` with URI SAN [`CLIENT_ID`] required. Both route to cluster `backend`.
/// - `tcps` on `tcps_port`: TLS with certificate `a.example` (a handshake may take 1 s), then
///   a TCP proxy to `echo`.
pub fn bootstrap(
    pki: &Pki,
    https_port: u16,
    tcps_port: u16,
    backend: SocketAddr,
    echo: SocketAddr,
) -> String {
    let hcm = r#"{name: envoy.filters.network.http_connection_manager, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, stat_prefix: https, http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}], route_config: {name: https, virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: backend}}]}]}}}"#;
    let tcp = r#"{name: envoy.filters.network.tcp_proxy, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: tcps, cluster: echo}}"#;
    let a = pki.transport_socket("a.example", "", ", alpn_protocols: [h2, http/1.1]");
    let b = pki.transport_socket(
        "b.example",
        "require_client_certificate: true, ",
        &format!(
            ", validation_context: {{trusted_ca: {{filename: {:?}}}, \
             match_typed_subject_alt_names: [{{san_type: URI, matcher: {{exact: \"{CLIENT_ID}\"}}}}]}}",
            pki.path("ca.pem")
        ),
    );
    let tcps = pki.transport_socket("a.example", "", "");
    let cluster = |name: &str, address: SocketAddr| {
        format!(
            "{{name: {name}, type: STATIC, connect_timeout: 2s, load_assignment: {{cluster_name: \
             {name}, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: \
             {{address: {}, port_value: {}}}}}}}}}]}}]}}}}",
            address.ip(),
            address.port()
        )
    };
    format!(
        r#"node: {{id: downstream-tls, cluster: downstream-tls}}
static_resources:
  listeners:
  - name: https
    address: {{socket_address: {{address: 127.0.0.1, port_value: {https_port}}}}}
    listener_filters: [{{name: envoy.filters.listener.tls_inspector, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}}}}]
    filter_chains:
    - name: a
      filter_chain_match: {{server_names: [a.example]}}
      transport_socket: {a}
      filters: [{hcm}]
    - name: b
      filter_chain_match: {{server_names: [b.example]}}
      transport_socket: {b}
      filters: [{hcm}]
  - name: tcps
    address: {{socket_address: {{address: 127.0.0.1, port_value: {tcps_port}}}}}
    filter_chains:
    - transport_socket: {tcps}
      transport_socket_connect_timeout: 1s
      filters: [{tcp}]
  clusters:
  - {}
  - {}
"#,
        cluster("backend", backend),
        cluster("echo", echo),
    )
}

fn make_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// A certificate for `dns` and `uri` with `subject` (RDNs in order), signed by `ca`, and its
/// key, as PEM.
fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    dns: &str,
    uri: &str,
    subject: &[(DnType, &str)],
) -> (String, String) {
    let mut params = CertificateParams::new(vec![dns.to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::URI(uri.try_into().unwrap()));
    params.distinguished_name = DistinguishedName::new();
    for (kind, value) in subject {
        params.distinguished_name.push(kind.clone(), *value);
    }
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}
