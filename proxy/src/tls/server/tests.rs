//! The server side of a handshake, over in-memory pipes: SNI required or not, client
//! certificates required without a validation context, and session resumption switched off.

use std::sync::Arc;

use envoy_types::pb::envoy::{
    config::core::v3::{DataSource, data_source::Specifier},
    extensions::transport_sockets::tls::v3::{CommonTlsContext, TlsCertificate},
};
use mesh_common::path::FieldPath;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::{
    ClientConfig, HandshakeKind, RootCertStore,
    crypto::ring,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject},
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use super::{DownstreamTls, ServerOptions, TlsInfo};
use crate::tls::{Side, compile_common};

const CLIENT_ID: &str = "spiffe://cluster.local/ns/default/sa/client";

const DEFAULTS: ServerOptions = ServerOptions {
    require_client_certificate: false,
    require_sni: false,
    stateless_resumption: true,
    stateful_resumption: true,
    prefer_client_ciphers: false,
};

/// A CA, a server certificate for `a.example` it signed, and a self-signed client certificate
/// (no CA knows it) for [`CLIENT_ID`], as PEM.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

impl Pki {
    fn new() -> Self {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["a.example".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .subject_alt_names
            .push(SanType::URI(CLIENT_ID.try_into().unwrap()));
        let client = client.self_signed(&client_key).unwrap();
        Self {
            ca: ca.pem(),
            server: (server.pem(), key.serialize_pem()),
            client: (client.pem(), client_key.serialize_pem()),
        }
    }

    fn server(&self, options: ServerOptions) -> DownstreamTls {
        let inline = |text: &str| DataSource {
            specifier: Some(Specifier::InlineString(text.to_owned())),
            ..DataSource::default()
        };
        let common = CommonTlsContext {
            tls_certificates: vec![TlsCertificate {
                certificate_chain: Some(inline(&self.server.0)),
                private_key: Some(inline(&self.server.1)),
                ..TlsCertificate::default()
            }],
            ..CommonTlsContext::default()
        };
        let context = compile_common(&common, Side::Server, &FieldPath::root()).unwrap();
        DownstreamTls::new(context, options, 0).unwrap()
    }

    /// A client trusting the CA, sending SNI when `sni`, presenting the client certificate
    /// when `cert`.
    fn client(&self, sni: bool, cert: bool) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca.as_bytes()).unwrap())
            .unwrap();
        let builder = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = if cert {
            let chain = vec![CertificateDer::from_pem_slice(self.client.0.as_bytes()).unwrap()];
            let key = PrivateKeyDer::from_pem_slice(self.client.1.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        config.enable_sni = sni;
        Arc::new(config)
    }
}

/// One connection: the server's view (or its error's text) and the client's handshake kind
/// once one byte of application data came through (so that session tickets arrived first).
async fn connect(
    server: &DownstreamTls,
    client: &Arc<ClientConfig>,
) -> (Result<TlsInfo, String>, Option<HandshakeKind>) {
    let (near, far) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from("a.example").unwrap();
    let connector = TlsConnector::from(Arc::clone(client));
    let client = async move {
        let mut tls = connector.connect(name, near).await.ok()?;
        let mut byte = [0];
        tls.read_exact(&mut byte).await.ok()?;
        tls.get_ref().1.handshake_kind()
    };
    let server = async move {
        let (mut tls, info) = server.accept(far).await.map_err(|e| e.to_string())?;
        // A refused client certificate shows when the client's last flight is read.
        tls.write_all(b"x").await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        Ok(info)
    };
    let patience = std::time::Duration::from_secs(5);
    tokio::time::timeout(patience, async { tokio::join!(server, client) })
        .await
        .unwrap()
}

#[tokio::test]
async fn require_sni_refuses_a_client_hello_without_a_name() {
    let pki = Pki::new();
    let server = pki.server(ServerOptions {
        require_sni: true,
        ..DEFAULTS
    });
    let (seen, kind) = connect(&server, &pki.client(false, false)).await;
    assert_eq!(
        seen,
        Err("TLS error: the client sent no SNI and require_sni is set".to_owned())
    );
    assert_eq!(kind, None);
    let (seen, kind) = connect(&server, &pki.client(true, false)).await;
    assert_eq!(seen.unwrap().server_name.as_deref(), Some("a.example"));
    assert_eq!(kind, Some(HandshakeKind::Full));
}

#[tokio::test]
async fn a_required_certificate_without_a_validation_context_may_be_any() {
    let pki = Pki::new();
    let server = pki.server(ServerOptions {
        require_client_certificate: true,
        ..DEFAULTS
    });
    let (seen, _) = connect(&server, &pki.client(true, false)).await;
    assert_eq!(seen, Err("TLS error: peer sent no certificates".to_owned()));
    let (seen, _) = connect(&server, &pki.client(true, true)).await;
    assert_eq!(seen.unwrap().peer_uris, [CLIENT_ID]);
    // Not required: none is asked for, so none is seen.
    let (seen, _) = connect(&pki.server(DEFAULTS), &pki.client(true, true)).await;
    assert_eq!(seen.unwrap().peer_uris, Vec::<String>::new());
}

#[tokio::test]
async fn sessions_resume_unless_both_kinds_of_resumption_are_off() {
    let pki = Pki::new();
    let cases = [
        (true, true, HandshakeKind::Resumed),
        (false, true, HandshakeKind::Resumed),
        (true, false, HandshakeKind::Resumed),
        (false, false, HandshakeKind::Full),
    ];
    for (stateless_resumption, stateful_resumption, second) in cases {
        let server = pki.server(ServerOptions {
            stateless_resumption,
            stateful_resumption,
            ..DEFAULTS
        });
        let client = pki.client(true, false);
        assert_eq!(connect(&server, &client).await.1, Some(HandshakeKind::Full));
        assert_eq!(
            connect(&server, &client).await.1,
            Some(second),
            "stateless {stateless_resumption}, stateful {stateful_resumption}"
        );
    }
}
