//! The `x-forwarded-client-cert` tests' world: one listener per way of treating the header,
//! an upstream that answers with the `x-forwarded-client-cert` and `x-forwarded-proto` it
//! received, and a client that asks over TLS (with or without a certificate) or in plaintext.

use std::{convert::Infallible, net::SocketAddr};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::{body::Incoming, service::service_fn};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use tokio::net::{TcpListener, TcpStream};

use super::{Client, PATIENCE, Pki};

/// The listeners of [`bootstrap`], in port order: name, whether TLS asks for a client
/// certificate (`Some(true)`: requires one), and the connection manager's XFCC fields.
pub const LISTENERS: &[(&str, Option<bool>, &str)] = &[
    (
        "istio-inbound",
        Some(true),
        "forward_client_cert_details: APPEND_FORWARD, set_current_client_cert_details: \
         {subject: true, dns: true, uri: true}, ",
    ),
    (
        "sanitize-set-all",
        Some(true),
        "forward_client_cert_details: SANITIZE_SET, set_current_client_cert_details: \
         {cert: true, chain: true, subject: true, uri: true, dns: true}, ",
    ),
    (
        "append-bare",
        Some(false),
        "forward_client_cert_details: APPEND_FORWARD, ",
    ),
    (
        "forward-only",
        Some(false),
        "forward_client_cert_details: FORWARD_ONLY, ",
    ),
    ("sanitize", Some(true), ""),
    (
        "always-forward-only",
        None,
        "forward_client_cert_details: ALWAYS_FORWARD_ONLY, ",
    ),
    (
        "plaintext-edge",
        None,
        "forward_client_cert_details: APPEND_FORWARD, use_remote_address: true, ",
    ),
];

/// How a test client reaches a listener.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// Plain HTTP/1.1.
    Plain,
    /// TLS with SNI `a.example`, presenting the PKI's certificate of that name, if any.
    Tls(Option<&'static str>),
}

/// A bootstrap with the [`LISTENERS`] on `ports` (one each, on loopback), all routing to
/// `backend`. TLS listeners present `a.example` and trust `ca.pem` for client certificates;
/// the last two listed use TLS without asking for a certificate, and plaintext.
pub fn bootstrap(pki: &Pki, ports: &[u16], backend: SocketAddr) -> String {
    assert_eq!(ports.len(), LISTENERS.len());
    let validation = format!(
        ", validation_context: {{trusted_ca: {{filename: {:?}}}}}",
        pki.path("ca.pem")
    );
    let mut listeners = String::new();
    for ((name, client_cert, fields), port) in LISTENERS.iter().zip(ports) {
        let transport = match (client_cert, *name) {
            (Some(true), _) => format!(
                "\n      transport_socket: {}",
                pki.transport_socket(
                    "a.example",
                    "require_client_certificate: true, ",
                    &validation
                )
            ),
            (Some(false), _) => format!(
                "\n      transport_socket: {}",
                pki.transport_socket("a.example", "", &validation)
            ),
            (None, "plaintext-edge") => String::new(),
            (None, _) => format!(
                "\n      transport_socket: {}",
                pki.transport_socket("a.example", "", "")
            ),
        };
        listeners.push_str(&format!(
            r#"  - name: {name}
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters: [{{name: envoy.filters.network.http_connection_manager, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager, stat_prefix: {name}, {fields}http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}], route_config: {{name: all, virtual_hosts: [{{name: all, domains: ["*"], routes: [{{match: {{prefix: /}}, route: {{cluster: backend}}}}]}}]}}}}}}]{transport}
"#
        ));
    }
    format!(
        r#"node: {{id: xfcc, cluster: xfcc}}
static_resources:
  listeners:
{listeners}  clusters:
  - {{name: backend, type: STATIC, connect_timeout: 2s, load_assignment: {{cluster_name: backend, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {}, port_value: {}}}}}}}}}]}}]}}}}
"#,
        backend.ip(),
        backend.port()
    )
}

/// An upstream on loopback answering `xfcc=<x-forwarded-client-cert> xfp=<x-forwarded-proto>`
/// (each value as received, repeated ones joined with `|`, `-` when absent).
pub async fn headers_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|request: Request<Incoming>| async move {
                    let seen = |name: &str| {
                        let values: Vec<&str> = request
                            .headers()
                            .get_all(name)
                            .iter()
                            .map(|v| v.to_str().unwrap_or("<not text>"))
                            .collect();
                        if values.is_empty() {
                            "-".to_owned()
                        } else {
                            values.join("|")
                        }
                    };
                    let body = format!(
                        "xfcc={} xfp={}",
                        seen("x-forwarded-client-cert"),
                        seen("x-forwarded-proto")
                    );
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    address
}

/// `GET /` with `headers` on `address` as `via` says: `<status> <body>`, or `failed` when
/// the connection or the request failed.
pub async fn ask(pki: &Pki, address: SocketAddr, via: Via, headers: &[(&str, &str)]) -> String {
    let attempt = async {
        match via {
            Via::Plain => {
                let tcp = TcpStream::connect(address)
                    .await
                    .map_err(|e| e.to_string())?;
                send(TokioIo::new(tcp), headers).await
            }
            Via::Tls(cert) => {
                let client = Client {
                    sni: Some("a.example"),
                    alpn: &[],
                    cert,
                };
                let tls = pki.connect(address, client).await?;
                send(TokioIo::new(tls), headers).await
            }
        }
    };
    match tokio::time::timeout(PATIENCE, attempt).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => "failed".to_owned(),
        Err(_) => panic!("{via:?} to {address}: no outcome in {PATIENCE:?}"),
    }
}

async fn send<I>(io: TokioIo<I>, headers: &[(&str, &str)]) -> Result<String, String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut request = Request::get("/").header("host", "example");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Empty::<Bytes>::new()).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(format!("{status} {}", String::from_utf8_lossy(&body)))
}

/// An XFCC header no proxy before wrote.
pub const FORGED: &str = "By=spiffe://forged;URI=spiffe://forged/client";

/// A request: its listener (an index into [`LISTENERS`]), how it is sent, and its headers.
pub type Case = (usize, Via, &'static [(&'static str, &'static str)]);

/// The requests compared.
pub const CASES: &[Case] = &[
    (0, Via::Tls(Some("client")), &[]),
    (0, Via::Tls(Some("odd")), &[]),
    (
        0,
        Via::Tls(Some("client")),
        &[("x-forwarded-client-cert", FORGED)],
    ),
    (
        0,
        Via::Tls(Some("client")),
        &[
            ("x-forwarded-client-cert", "By=a"),
            ("x-forwarded-client-cert", "By=b"),
            ("x-forwarded-proto", "http"),
        ],
    ),
    (
        1,
        Via::Tls(Some("client")),
        &[("x-forwarded-client-cert", FORGED)],
    ),
    (
        2,
        Via::Tls(Some("client")),
        &[("x-forwarded-client-cert", FORGED)],
    ),
    (2, Via::Tls(None), &[("x-forwarded-client-cert", FORGED)]),
    (
        3,
        Via::Tls(Some("client")),
        &[("x-forwarded-client-cert", FORGED)],
    ),
    (3, Via::Tls(None), &[("x-forwarded-client-cert", FORGED)]),
    (
        4,
        Via::Tls(Some("client")),
        &[("x-forwarded-client-cert", FORGED)],
    ),
    (5, Via::Tls(None), &[("x-forwarded-client-cert", FORGED)]),
    (
        6,
        Via::Plain,
        &[
            ("x-forwarded-client-cert", FORGED),
            ("x-forwarded-proto", "https"),
        ],
    ),
];

/// The outcome of every case, on a proxy serving [`bootstrap`] on `ports`.
pub async fn outcomes(pki: &Pki, ports: &[u16]) -> Vec<String> {
    let mut all = Vec::new();
    for (listener, via, headers) in CASES {
        let address = SocketAddr::from(([127, 0, 0, 1], ports[*listener]));
        let outcome = ask(pki, address, *via, headers).await;
        let sent: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
        all.push(format!(
            "{} {via:?} {sent:?} -> {outcome}",
            LISTENERS[*listener].0
        ));
    }
    all
}

/// What [`outcomes`] must be, as a stock Envoy gives it: `By` is the server certificate's URI
/// SAN, `Hash` the SHA-256 of the client certificate, `Cert` and `Chain` its URL-encoded PEM
/// (the client sends no intermediate).
pub fn expected(pki: &Pki) -> Vec<String> {
    let (hash, encoded) = fingerprint(pki, "client");
    let (odd_hash, _) = fingerprint(pki, "odd");
    let by = "By=spiffe://cluster.local/ns/default/sa/a";
    let istio = format!(
        "{by};Hash={hash};Subject=\"CN=client.example\";URI={};DNS=client.example",
        super::CLIENT_ID
    );
    let forged = FORGED;
    [
        format!("istio-inbound Tls(Some(\"client\")) [] -> 200 xfcc={istio} xfp=https"),
        format!(
            "istio-inbound Tls(Some(\"odd\")) [] -> 200 xfcc={by};Hash={odd_hash};\
             Subject=\"{ODD_RFC2253}\";URI={};DNS=odd.example xfp=https",
            super::ODD_ID
        ),
        format!(
            "istio-inbound Tls(Some(\"client\")) [\"x-forwarded-client-cert\"] -> 200 \
             xfcc={forged},{istio} xfp=https"
        ),
        format!(
            "istio-inbound Tls(Some(\"client\")) [\"x-forwarded-client-cert\", \
             \"x-forwarded-client-cert\", \"x-forwarded-proto\"] -> 200 xfcc=By=a,By=b,{istio} \
             xfp=http"
        ),
        format!(
            "sanitize-set-all Tls(Some(\"client\")) [\"x-forwarded-client-cert\"] -> 200 \
             xfcc={by};Hash={hash};Cert=\"{encoded}\";Chain=\"{encoded}\";\
             Subject=\"CN=client.example\";URI={};DNS=client.example xfp=https",
            super::CLIENT_ID
        ),
        format!(
            "append-bare Tls(Some(\"client\")) [\"x-forwarded-client-cert\"] -> 200 \
             xfcc={forged},{by};Hash={hash} xfp=https"
        ),
        "append-bare Tls(None) [\"x-forwarded-client-cert\"] -> 200 xfcc=- xfp=https".to_owned(),
        format!(
            "forward-only Tls(Some(\"client\")) [\"x-forwarded-client-cert\"] -> 200 \
             xfcc={forged} xfp=https"
        ),
        "forward-only Tls(None) [\"x-forwarded-client-cert\"] -> 200 xfcc=- xfp=https".to_owned(),
        "sanitize Tls(Some(\"client\")) [\"x-forwarded-client-cert\"] -> 200 xfcc=- xfp=https"
            .to_owned(),
        format!(
            "always-forward-only Tls(None) [\"x-forwarded-client-cert\"] -> 200 xfcc={forged} \
             xfp=https"
        ),
        "plaintext-edge Plain [\"x-forwarded-client-cert\", \"x-forwarded-proto\"] -> 200 \
         xfcc=- xfp=http"
            .to_owned(),
    ]
    .into()
}

/// The subject of certificate `odd` as Envoy writes it (RFC 2253, last RDN first).
const ODD_RFC2253: &str = r#"CN=\ caf\C3\A9\+1,OU=\#team\ ,O=Acme\, Inc. \<R&D\>\; \"x\",C=US"#;

/// The SHA-256 (lowercase hex) and URL-encoded PEM of certificate `name` of the PKI.
fn fingerprint(pki: &Pki, name: &str) -> (String, String) {
    let pem = std::fs::read_to_string(pki.path(&format!("{name}.pem"))).unwrap();
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    let hash = ring::digest::digest(&ring::digest::SHA256, der.as_ref())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let encoded = pem
        .replace('\n', "%0A")
        .replace(' ', "%20")
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    (hash, encoded)
}
