//! The server-certificate verifier of upstream connections. rustls' own verifier checks the
//! certificate against the server name; Envoy does not (the SNI is not a SAN check), so this one
//! checks the chain against `trusted_ca` and the SANs against the configured matchers only.

use std::{net::IpAddr, sync::Arc};

use rustls::{
    CertificateError, Error, OtherError,
    client::{
        danger::{ServerCertVerified, ServerCertVerifier},
        verify_server_cert_signed_by_trust_anchor,
    },
    crypto::WebPkiSupportedAlgorithms,
    pki_types::{CertificateDer, ServerName, UnixTime},
    server::ParsedCertificate,
};
use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer};

use super::validation::{SanKind, SanMatcher, Validation};

/// rustls' three signature checks, the same in both verifiers: with the provider's algorithms,
/// held in the verifier's `algorithms` field. Written once here and expanded in each trait impl,
/// as the two traits declare the methods apart.
macro_rules! signature_checks {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
            ::rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &::rustls::pki_types::CertificateDer<'_>,
            dss: &::rustls::DigitallySignedStruct,
        ) -> Result<::rustls::client::danger::HandshakeSignatureValid, ::rustls::Error> {
            ::rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<::rustls::SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}
pub(super) use signature_checks;

/// Checks an upstream's certificate as its cluster's validation context says.
#[derive(Debug)]
pub struct PeerVerifier {
    validation: Validation,
    algorithms: WebPkiSupportedAlgorithms,
}

/// No SAN of the certificate matched (shown in the handshake error).
#[derive(Debug, thiserror::Error)]
#[error("no subject alternative name matches match_typed_subject_alt_names")]
struct SanMismatch;

// === impl PeerVerifier ===

impl PeerVerifier {
    /// Verifies as `validation` says, with `algorithms` for signatures.
    pub fn new(validation: Validation, algorithms: WebPkiSupportedAlgorithms) -> Arc<Self> {
        Arc::new(Self {
            validation,
            algorithms,
        })
    }
}

impl ServerCertVerifier for PeerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Validation::Verify { roots, sans } = &self.validation else {
            return Ok(ServerCertVerified::assertion());
        };
        let parsed = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &parsed,
            roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        check_sans(end_entity, sans)?;
        Ok(ServerCertVerified::assertion())
    }

    signature_checks!();
}

/// The SAN check of both sides: `Ok` when there are no matchers or one matches a SAN of
/// `cert`, the handshake error naming the mismatch otherwise.
pub(crate) fn check_sans(cert: &CertificateDer<'_>, sans: &[SanMatcher]) -> Result<(), Error> {
    if sans.is_empty() || san_matches(cert, sans)? {
        return Ok(());
    }
    Err(Error::InvalidCertificate(CertificateError::Other(
        OtherError(Arc::new(SanMismatch)),
    )))
}

/// Whether a SAN of `cert` matches one of `sans`.
pub fn san_matches(cert: &CertificateDer<'_>, sans: &[SanMatcher]) -> Result<bool, Error> {
    let (_, cert) = X509Certificate::from_der(cert.as_ref())
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let names = match cert.subject_alternative_name() {
        Ok(Some(names)) => names.value.general_names.clone(),
        Ok(None) => return Ok(false),
        Err(_) => return Err(Error::InvalidCertificate(CertificateError::BadEncoding)),
    };
    for name in &names {
        let (kind, value) = match name {
            GeneralName::DNSName(dns) => (SanKind::Dns, (*dns).to_owned()),
            GeneralName::URI(uri) => (SanKind::Uri, (*uri).to_owned()),
            GeneralName::RFC822Name(email) => (SanKind::Email, (*email).to_owned()),
            GeneralName::IPAddress(bytes) => match ip(bytes) {
                Some(ip) => (SanKind::Ip, ip.to_string()),
                None => continue,
            },
            _ => continue,
        };
        if sans.iter().any(|m| m.kind == kind && m.matches(&value)) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn ip(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}
