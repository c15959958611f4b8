//! Client (upstream) TLS: a compiled `UpstreamTlsContext`, and the handshake on a connected
//! socket.

use std::{io, net::SocketAddr, sync::Arc};

use rustls::{
    ClientConfig,
    client::Resumption,
    pki_types::{IpAddr as PkiIpAddr, ServerName},
};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

use super::{common::TlsContext, verify::PeerVerifier};

/// The ALPN protocol HTTP/2 clusters offer when `alpn_protocols` is empty, as Envoy does.
const H2: &[u8] = b"h2";

/// TLS to a cluster's endpoints, ready to use: one rustls client configuration per ALPN choice.
pub struct UpstreamTls {
    sni: Option<ServerName<'static>>,
    configured: Arc<ClientConfig>,
    http2: Arc<ClientConfig>,
    fingerprint: u64,
}

/// What ALPN the connection offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alpn {
    /// `alpn_protocols` as configured (HTTP/1.1 pools and the TCP proxy).
    Configured,
    /// `alpn_protocols`, or `h2` when it is empty (HTTP/2 pools).
    Http2,
}

/// Why a compiled context cannot make a client configuration.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// The versions and cipher suites do not fit together.
    #[error("{0}")]
    Params(rustls::Error),
    /// The private key does not fit the certificate, or is of an unsupported type.
    #[error("{0}")]
    Key(rustls::Error),
}

// === impl UpstreamTls ===

impl UpstreamTls {
    /// TLS as `context` says, sending `sni` (none when `None`, as in Envoy with an empty
    /// `sni`) and keeping up to `session_keys` sessions for resumption (0 turns it off).
    /// `fingerprint` identifies the whole configuration and content read.
    pub fn new(
        context: TlsContext,
        sni: Option<ServerName<'static>>,
        session_keys: u32,
        fingerprint: u64,
    ) -> Result<Self, ClientConfigError> {
        let TlsContext {
            certificate,
            validation,
            alpn,
            params,
            ..
        } = context;
        let algorithms = params.provider.signature_verification_algorithms;
        let builder = ClientConfig::builder_with_provider(Arc::clone(&params.provider))
            .with_protocol_versions(&params.versions)
            .map_err(ClientConfigError::Params)?
            .dangerous()
            .with_custom_certificate_verifier(PeerVerifier::new(validation, algorithms));
        let mut config = match certificate {
            Some(certificate) => builder
                .with_client_auth_cert(certificate.chain, certificate.key)
                .map_err(ClientConfigError::Key)?,
            None => builder.with_no_client_auth(),
        };
        config.resumption = match session_keys {
            0 => Resumption::disabled(),
            n => Resumption::in_memory_sessions(n as usize),
        };
        let mut http2 = config.clone();
        http2.alpn_protocols = if alpn.is_empty() {
            vec![H2.to_vec()]
        } else {
            alpn.clone()
        };
        config.alpn_protocols = alpn;
        Ok(Self {
            sni,
            configured: Arc::new(config),
            http2: Arc::new(http2),
            fingerprint,
        })
    }

    /// Identifies the configuration: equal fingerprints make the same connections.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The TLS handshake on `tcp`, connected to `address`. A failure is the connection's
    /// failure, with rustls' reason in the error.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        address: SocketAddr,
        alpn: Alpn,
    ) -> io::Result<TlsStream<TcpStream>> {
        let config = match alpn {
            Alpn::Configured => &self.configured,
            Alpn::Http2 => &self.http2,
        };
        // rustls sends no SNI for an IP address, which is what an empty `sni` means.
        let name = self
            .sni
            .clone()
            .unwrap_or_else(|| ServerName::IpAddress(PkiIpAddr::from(address.ip())));
        TlsConnector::from(Arc::clone(config))
            .connect(name, tcp)
            .await
            .map_err(|e| io::Error::new(e.kind(), format!("TLS error: {e}")))
    }
}

impl std::fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("sni", &self.sni)
            .field("alpn", &self.configured.alpn_protocols)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}
