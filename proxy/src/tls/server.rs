//! Server (downstream) TLS: a compiled `DownstreamTlsContext`, and the handshake on an accepted
//! connection, after its filter chain was chosen.
//!
//! ALPN follows Envoy (BoringSSL): a client that offers none of `alpn_protocols` is served
//! without ALPN instead of being refused, so the ClientHello is read first and the configuration
//! picked for it.

mod secrets;
mod verify;

use std::{io, sync::Arc};

use rustls::{
    ServerConfig,
    crypto::ring::Ticketer,
    pki_types::CertificateDer,
    server::{Acceptor, NoServerSessionStorage},
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::{LazyConfigAcceptor, server::TlsStream};
use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

pub use self::secrets::inline_listener_secrets;
use self::verify::ClientVerifier;
use super::common::TlsContext;

/// TLS termination of one filter chain, ready to use.
pub struct DownstreamTls {
    /// With `alpn_protocols`.
    configured: Arc<ServerConfig>,
    /// The same without ALPN, for clients that offer none of `alpn_protocols`.
    no_alpn: Arc<ServerConfig>,
    require_sni: bool,
    fingerprint: u64,
    /// The URI SANs of the certificate presented (`By` of `x-forwarded-client-cert`).
    local_uris: Vec<String>,
}

/// The `DownstreamTlsContext` fields beside `common_tls_context`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerOptions {
    /// `require_client_certificate`.
    pub require_client_certificate: bool,
    /// `require_sni`: a ClientHello without a server name fails the handshake.
    pub require_sni: bool,
    /// Session tickets with keys made and rotated by the proxy (not
    /// `disable_stateless_session_resumption`).
    pub stateless_resumption: bool,
    /// Sessions kept by the proxy, resumed by id (not `disable_stateful_session_resumption`).
    pub stateful_resumption: bool,
    /// `prefer_client_ciphers`: the client's order of TLS 1.2 cipher suites wins.
    pub prefer_client_ciphers: bool,
}

/// Why a compiled context cannot make a server configuration.
#[derive(Debug, thiserror::Error)]
pub enum ServerConfigError {
    /// `tls_certificates` is empty: a server must present a certificate.
    #[error("a TLS server needs a certificate")]
    NoCertificate,
    /// The versions and cipher suites do not fit together.
    #[error("{0}")]
    Params(rustls::Error),
    /// The private key does not fit the certificate, or is of an unsupported type.
    #[error("{0}")]
    Key(rustls::Error),
    /// The trusted CAs cannot verify client certificates.
    #[error("{0}")]
    Verifier(String),
    /// No session ticket key could be made.
    #[error("{0}")]
    Tickets(rustls::Error),
}

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    /// rustls refused the peer, or the connection failed.
    #[error("TLS error: {0}")]
    Tls(io::Error),
    /// `require_sni` is set and the ClientHello named no server.
    #[error("TLS error: the client sent no SNI and require_sni is set")]
    NoSni,
    /// The handshake took longer than `transport_socket_connect_timeout`.
    #[error("TLS error: the handshake took longer than transport_socket_connect_timeout")]
    Timeout,
}

/// What a handshake established, for the request path and logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// The SNI the client sent.
    pub server_name: Option<String>,
    /// The ALPN protocol agreed.
    pub alpn: Option<Vec<u8>>,
    /// The URI SANs of the client certificate (its SPIFFE ID); empty without one.
    pub peer_uris: Vec<String>,
}

// === impl DownstreamTls ===

impl DownstreamTls {
    /// TLS as `context` and `options` say; `fingerprint` identifies the whole configuration
    /// and the content read.
    pub fn new(
        context: TlsContext,
        options: ServerOptions,
        fingerprint: u64,
    ) -> Result<Self, ServerConfigError> {
        let TlsContext {
            certificate,
            validation,
            alpn,
            params,
            ..
        } = context;
        let certificate = certificate.ok_or(ServerConfigError::NoCertificate)?;
        let local_uris = certificate.chain.first().map(uri_sans).unwrap_or_default();
        let builder = ServerConfig::builder_with_provider(Arc::clone(&params.provider))
            .with_protocol_versions(&params.versions)
            .map_err(ServerConfigError::Params)?;
        let verifier = ClientVerifier::new(
            validation,
            options.require_client_certificate,
            &params.provider,
        )
        .map_err(ServerConfigError::Verifier)?;
        let builder = match verifier {
            Some(verifier) => builder.with_client_cert_verifier(verifier),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certificate.chain, certificate.key)
            .map_err(ServerConfigError::Key)?;
        config.ignore_client_order = !options.prefer_client_ciphers;
        if options.stateless_resumption {
            config.ticketer = Ticketer::new().map_err(ServerConfigError::Tickets)?;
        }
        if !options.stateful_resumption {
            config.session_storage = Arc::new(NoServerSessionStorage {});
        }
        if !options.stateless_resumption && !options.stateful_resumption {
            config.send_tls13_tickets = 0;
        }
        let no_alpn = config.clone();
        config.alpn_protocols = alpn;
        Ok(Self {
            configured: Arc::new(config),
            no_alpn: Arc::new(no_alpn),
            require_sni: options.require_sni,
            fingerprint,
            local_uris,
        })
    }

    /// The URI SANs of the certificate this configuration presents.
    pub fn local_uri_sans(&self) -> &[String] {
        &self.local_uris
    }

    /// Identifies the configuration: equal fingerprints terminate TLS alike.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The server side of the handshake on `io`.
    pub async fn accept<I>(&self, io: I) -> Result<(TlsStream<I>, TlsInfo), HandshakeError>
    where
        I: AsyncRead + AsyncWrite + Unpin,
    {
        let start = LazyConfigAcceptor::new(Acceptor::default(), io)
            .await
            .map_err(HandshakeError::Tls)?;
        let hello = start.client_hello();
        let server_name = hello.server_name().map(str::to_owned);
        if self.require_sni && server_name.is_none() {
            return Err(HandshakeError::NoSni);
        }
        let ours = &self.configured.alpn_protocols;
        let shared = hello
            .alpn()
            .is_none_or(|mut offered| offered.any(|p| ours.iter().any(|o| o == p)));
        let config = if shared {
            &self.configured
        } else {
            &self.no_alpn
        };
        let tls = start
            .into_stream(Arc::clone(config))
            .await
            .map_err(HandshakeError::Tls)?;
        let connection = tls.get_ref().1;
        let info = TlsInfo {
            server_name,
            alpn: connection.alpn_protocol().map(<[u8]>::to_vec),
            peer_uris: connection
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(uri_sans)
                .unwrap_or_default(),
        };
        Ok((tls, info))
    }
}

impl std::fmt::Debug for DownstreamTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownstreamTls")
            .field("alpn", &self.configured.alpn_protocols)
            .field("require_sni", &self.require_sni)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// The URI SANs of `cert`; none when it cannot be parsed (it was verified, or is not trusted
/// for anything).
fn uri_sans(cert: &CertificateDer<'_>) -> Vec<String> {
    let Ok((_, cert)) = X509Certificate::from_der(cert.as_ref()) else {
        return Vec::new();
    };
    let Ok(Some(names)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
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

#[cfg(test)]
mod tests;
