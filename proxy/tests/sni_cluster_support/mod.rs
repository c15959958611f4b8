//! What the `sni_cluster` tests share: two TLS upstreams named like the clusters Istio makes for
//! an `AUTO_PASSTHROUGH` gateway, one bootstrap (given to mesh-proxy and to Envoy) whose
//! listener sends each TLS connection to the cluster its SNI names, and a client that reports
//! what happened to it in one comparable line.

#![allow(dead_code)]

use std::{
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::{
    ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{CryptoProvider, ring, verify_tls12_signature, verify_tls13_signature},
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime},
};
use serde_json::Value;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// The cluster of every subset of service `a`'s port 9080.
pub const SNI_A: &str = "outbound_.9080_._.a.default.svc.cluster.local";
/// The cluster of subset `v1` of service `a`'s port 9080.
pub const SNI_V1: &str = "outbound_.9080_.v1_.a.default.svc.cluster.local";
/// A name no cluster has.
pub const SNI_UNKNOWN: &str = "outbound_.9080_._.c.default.svc.cluster.local";

/// How long any single step may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A TLS server on loopback that writes its name to every client and closes.
pub struct TlsUpstream {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its name, which it writes; also its certificate's DNS name.
    pub name: &'static str,
    /// The certificate it presents.
    pub cert: CertificateDer<'static>,
}

/// Starts a [`TlsUpstream`] called `name`, with a self-signed certificate of its own.
pub async fn tls_upstream(name: &'static str) -> TlsUpstream {
    let certified = rcgen::generate_simple_self_signed(vec![format!("{name}.test")]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::try_from(certified.signing_key.serialize_der()).unwrap();
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = tls.write_all(name.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsUpstream {
        address,
        name,
        cert,
    }
}

/// A bootstrap (Envoy's YAML) with the admin on 127.0.0.1:`admin` and listener `sni` on
/// 127.0.0.1:`port`: a `tls_inspector`, then
/// one chain of `sni_cluster` and a `tcp_proxy` to `BlackHoleCluster` (a `STATIC` cluster with
/// no endpoints, as Istio makes it), logging each connection on stdout. Clusters [`SNI_A`] and
/// [`SNI_V1`] lead to `a` and `v1`.
pub fn bootstrap(port: u16, admin: u16, a: SocketAddr, v1: SocketAddr) -> String {
    let cluster = |name: &str, address: SocketAddr| {
        format!(
            "{{name: \"{name}\", type: STATIC, connect_timeout: 2s, load_assignment: {{cluster_name: \
             \"{name}\", endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: \
             {{address: {}, port_value: {}}}}}}}}}]}}]}}}}",
            address.ip(),
            address.port()
        )
    };
    format!(
        r#"node: {{id: sni-cluster, cluster: sni-cluster}}
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
static_resources:
  listeners:
  - name: sni
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
      typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.sni_cluster
        typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.network.sni_cluster.v3.SniCluster}}
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: sni
          cluster: BlackHoleCluster
          access_log: [{{name: envoy.access_loggers.stdout, typed_config: {{"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}}}}]
  clusters:
  - {{name: BlackHoleCluster, type: STATIC, connect_timeout: 10s}}
  - {}
  - {}
"#,
        cluster(SNI_A, a),
        cluster(SNI_V1, v1),
    )
}

/// The `sni_cluster` filter of [`bootstrap`] as the proxy whose admin is on `admin` shows it
/// in `/config_dump`.
pub async fn dumped_filter(admin: u16) -> Value {
    let tcp = TcpStream::connect(("127.0.0.1", admin)).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get("/config_dump")
        .header("host", "admin")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = tokio::time::timeout(PATIENCE, sender.send_request(request))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let dump: Value = serde_json::from_slice(&body).unwrap();
    let listeners = dump["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["@type"] == "type.googleapis.com/envoy.admin.v3.ListenersConfigDump")
        .expect("a listeners dump");
    listeners["static_listeners"][0]["listener"]["filter_chains"][0]["filters"][0].clone()
}

/// Opens TLS to `proxy` with `sni` (none when `None`) and reads to the end: `server <name>,
/// says <what it wrote>` when the handshake reached one of `upstreams` (recognised by the
/// certificate it presented), or `closed after <n> bytes` when the connection ended before a
/// handshake, `n` being what the proxy sent back.
pub async fn outcome(proxy: SocketAddr, sni: Option<&str>, upstreams: &[&TlsUpstream]) -> String {
    let attempt = async {
        let tcp = Counted {
            inner: TcpStream::connect(proxy).await.map_err(|e| e.to_string())?,
            read: 0,
        };
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate))
            .with_no_client_auth();
        config.enable_sni = sni.is_some();
        // Without SNI the name only fills the verifier's argument.
        let name = ServerName::try_from(sni.unwrap_or("unnamed.test").to_owned()).unwrap();
        let connecting = TlsConnector::from(Arc::new(config)).connect(name, tcp);
        let mut tls = match connecting.into_fallible().await {
            Ok(tls) => tls,
            Err((_, tcp)) => return Ok(format!("closed after {} bytes", tcp.read)),
        };
        let cert = tls.get_ref().1.peer_certificates().unwrap_or_default()[0].clone();
        let mut said = Vec::new();
        tls.read_to_end(&mut said)
            .await
            .map_err(|e| e.to_string())?;
        let server = upstreams
            .iter()
            .find(|u| u.cert == cert)
            .map_or("unknown", |u| u.name);
        Ok::<_, String>(format!(
            "server {server}, says {}",
            String::from_utf8_lossy(&said)
        ))
    };
    match tokio::time::timeout(PATIENCE, attempt).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(error)) => format!("failed: {error}"),
        Err(_) => panic!("{sni:?}: no outcome in {PATIENCE:?}"),
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// A TCP stream that counts the bytes read from it.
struct Counted {
    inner: TcpStream,
    read: usize,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read += buf.filled().len() - before;
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Accepts any server certificate: the test identifies the server by the certificate itself
/// (the upstreams' are self-signed), not by a chain of trust.
#[derive(Debug)]
struct AnyCertificate;

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = ring::default_provider().signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, &algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = ring::default_provider().signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, &algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
