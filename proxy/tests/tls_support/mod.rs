//! What the upstream TLS tests share: certificates made for the test and written to a
//! directory, and TLS upstreams on loopback that report what each handshake showed them.

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
use http_body_util::Full;
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::{
    RootCertStore, ServerConfig,
    crypto::ring,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject},
    server::WebPkiClientVerifier,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
    sync::mpsc,
};
use tokio_rustls::TlsAcceptor;

/// How long any single step of a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The upstream's DNS name, in its certificate and the clusters' `sni`.
pub const SERVER_NAME: &str = "backend.example";
/// The upstream's SPIFFE ID (URI SAN).
pub const SERVER_ID: &str = "spiffe://cluster.local/ns/default/sa/backend";
/// The proxy's SPIFFE ID, in the client certificate.
pub const CLIENT_ID: &str = "spiffe://cluster.local/ns/default/sa/client";

/// A test PKI written to a temporary directory: `ca.pem` signed `server.pem`/`server.key`
/// and `client.pem`/`client.key`; `other-ca.pem` signed nothing of these.
pub struct Pki {
    dir: tempfile::TempDir,
}

/// What an upstream saw of one connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The SNI the client sent.
    pub sni: Option<String>,
    /// The ALPN protocol agreed.
    pub alpn: Option<String>,
    /// The URI SANs of the client certificate, if one was presented.
    pub client_ids: Option<Vec<String>>,
    /// The protocol version agreed, as rustls names it (`TLSv1_2`).
    pub version: String,
    /// The cipher suite agreed, as rustls names it.
    pub suite: String,
}

/// What a TLS upstream does after the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serve {
    /// HTTP/1.1 or HTTP/2 (by ALPN or preface): `200`, body `tls:<version>`.
    Http,
    /// Writes `tls-echo:`, then echoes until end of stream.
    Echo,
}

// === impl Pki ===

impl Pki {
    /// Makes and writes the certificates.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = ca("test ca");
        let other = ca_cert("other ca");
        let server = leaf(&ca, SERVER_NAME, SERVER_ID);
        let client = leaf(&ca, "client.example", CLIENT_ID);
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("ca.pem", ca.pem());
        write("other-ca.pem", other);
        write("server.pem", server.0);
        write("server.key", server.1);
        write("client.pem", client.0);
        write("client.key", client.1);
        write(
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64!\n".to_owned(),
        );
        Self { dir }
    }

    /// The path of file `name` in the PKI's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The directory, for YAML.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts a TLS upstream with the server certificate, offering `alpn`, requiring a client
    /// certificate signed by the CA when `mutual`. Each handshake's view arrives on the
    /// receiver.
    pub async fn upstream(
        &self,
        serve: Serve,
        alpn: &[&str],
        mutual: bool,
    ) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
        let provider = Arc::new(ring::default_provider());
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if mutual {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = CertificateDer::pem_file_iter(self.path("server.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = PrivateKeyDer::from_pem_file(self.path("server.key")).unwrap();
        let mut config = builder.with_single_cert(chain, key).unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (seen, views) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, seen) = (acceptor.clone(), seen.clone());
                tokio::spawn(async move {
                    // A refused handshake is what some tests expect: nothing to report.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let connection = tls.get_ref().1;
                    let _ = seen.send(Seen {
                        sni: connection.server_name().map(str::to_owned),
                        alpn: connection
                            .alpn_protocol()
                            .map(|p| String::from_utf8_lossy(p).into_owned()),
                        client_ids: connection
                            .peer_certificates()
                            .and_then(|certs| certs.first())
                            .map(uri_sans),
                        version: format!("{:?}", connection.protocol_version()),
                        suite: format!(
                            "{:?}",
                            connection.negotiated_cipher_suite().map(|s| s.suite())
                        ),
                    });
                    match serve {
                        Serve::Http => http(tls).await,
                        Serve::Echo => echo(tls).await,
                    }
                });
            }
        });
        (address, views)
    }
}

async fn http(tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
    let service = service_fn(|request: Request<Incoming>| async move {
        let body = format!("tls:{:?}", request.version());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(tls), service)
        .await;
}

async fn echo(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
    if tls.write_all(b"tls-echo:").await.is_err() {
        return;
    }
    let mut buffer = [0; 1024];
    // Bounded by the peer: the test closes its side when done.
    while let Ok(n) = tls.read(&mut buffer).await {
        if n == 0 || tls.write_all(&buffer[..n]).await.is_err() {
            break;
        }
    }
    let _ = tls.shutdown().await;
}

fn uri_sans(cert: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::{extensions::GeneralName, prelude::FromDer};
    let (_, cert) = x509_parser::certificate::X509Certificate::from_der(cert.as_ref()).unwrap();
    let names = cert.subject_alternative_name().unwrap().unwrap();
    names
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::URI(uri) => Some((*uri).to_owned()),
            _ => None,
        })
        .collect()
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    CertifiedIssuer::self_signed(ca_params(name), KeyPair::generate().unwrap()).unwrap()
}

fn ca_cert(name: &str) -> String {
    ca(name).pem()
}

/// A certificate for `dns` and `uri` signed by `ca`, and its key, as PEM.
fn leaf(ca: &CertifiedIssuer<'static, KeyPair>, dns: &str, uri: &str) -> (String, String) {
    let mut params = CertificateParams::new(vec![dns.to_owned()]).unwrap();
    params
        .subject_alt_names
        .push(SanType::URI(uri.try_into().unwrap()));
    params.distinguished_name.push(DnType::CommonName, dns);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// The `@type` of an `UpstreamTlsContext`.
pub const UPSTREAM_TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

/// A bootstrap (Envoy's YAML) with an HTTP listener `http` on `http_port` routing `/<name>` to
/// cluster `<name>` for every cluster, a TCP proxy listener `tcp` on `tcp_port` to
/// `tcp_cluster`, both logging to stdout, `secrets` (YAML flow items) and `clusters`.
pub fn bootstrap(
    http_port: u16,
    tcp_port: u16,
    tcp_cluster: &str,
    secrets: &[String],
    clusters: &[(String, String)],
) -> String {
    let log = r#"[{name: envoy.access_loggers.stdout, typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}}]"#;
    let routes: String = clusters
        .iter()
        .map(|(name, _)| {
            format!("              - {{match: {{prefix: /{name}}}, route: {{cluster: {name}}}}}\n")
        })
        .collect();
    let mut out = format!(
        r#"node: {{id: tls-test, cluster: tls-test}}
static_resources:
  listeners:
  - name: http
    address: {{socket_address: {{address: 127.0.0.1, port_value: {http_port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http
          access_log: {log}
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
          route_config:
            name: http
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
{routes}  - name: tcp
    address: {{socket_address: {{address: 127.0.0.1, port_value: {tcp_port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: {tcp_cluster}
          access_log: {log}
  clusters:
"#
    );
    for (_, cluster) in clusters {
        out.push_str(&format!("  - {cluster}\n"));
    }
    if !secrets.is_empty() {
        out.push_str("  secrets:\n");
        for secret in secrets {
            out.push_str(&format!("  - {secret}\n"));
        }
    }
    out
}

/// A STATIC cluster `name` (YAML flow mapping) with one endpoint, speaking HTTP/2 when
/// `http2`, with the `UpstreamTlsContext` whose fields are `tls` (YAML flow entries).
pub fn tls_cluster(name: &str, endpoint: SocketAddr, http2: bool, tls: &str) -> (String, String) {
    let protocol = if http2 {
        r#", typed_extension_protocol_options: {envoy.extensions.upstreams.http.v3.HttpProtocolOptions: {"@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions, explicit_http_config: {http2_protocol_options: {}}}}"#
    } else {
        ""
    };
    let cluster = format!(
        r#"{{name: {name}, type: STATIC, connect_timeout: 2s, load_assignment: {{cluster_name: {name}, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {ip}, port_value: {port}}}}}}}}}]}}]}}{protocol}, transport_socket: {{name: envoy.transport_sockets.tls, typed_config: {{"@type": {UPSTREAM_TLS}, {tls}}}}}}}"#,
        ip = endpoint.ip(),
        port = endpoint.port(),
    );
    (name.to_owned(), cluster)
}

/// `common_tls_context` trusting `ca` (a file of the PKI), with `more` entries of the
/// validation context (YAML flow entries, or "").
pub fn trusting(pki: &Pki, ca: &str, more: &str) -> String {
    let more = if more.is_empty() {
        String::new()
    } else {
        format!(", {more}")
    };
    format!(
        "sni: {SERVER_NAME}, common_tls_context: {{validation_context: {{trusted_ca: \
         {{filename: {:?}}}{more}}}}}",
        pki.path(ca)
    )
}

/// `common_tls_context` trusting the CA and presenting the client certificate.
pub fn mutual(pki: &Pki) -> String {
    format!(
        "sni: {SERVER_NAME}, common_tls_context: {{tls_certificates: [{{certificate_chain: \
         {{filename: {:?}}}, private_key: {{filename: {:?}}}}}], validation_context: \
         {{trusted_ca: {{filename: {:?}}}}}}}",
        pki.path("client.pem"),
        pki.path("client.key"),
        pki.path("ca.pem")
    )
}
