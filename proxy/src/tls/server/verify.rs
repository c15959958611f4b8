//! The client-certificate verifier of downstream connections: rustls' WebPKI client verifier
//! checks the chain against `trusted_ca`, then the SANs are checked against the configured
//! matchers, as Envoy's default validator does.

use std::sync::Arc;

use rustls::{
    DistinguishedName, Error,
    crypto::{CryptoProvider, WebPkiSupportedAlgorithms},
    pki_types::{CertificateDer, UnixTime},
    server::{
        WebPkiClientVerifier,
        danger::{ClientCertVerified, ClientCertVerifier},
    },
};

use crate::tls::{
    SanMatcher, Validation,
    verify::{check_sans, signature_checks},
};

/// Checks a client's certificate as the listener's validation context says.
#[derive(Debug)]
pub(super) struct ClientVerifier {
    /// The chain check, when there is a `trusted_ca`; `None` accepts any certificate
    /// (`ACCEPT_UNTRUSTED`, or no validation context).
    chain: Option<Arc<dyn ClientCertVerifier>>,
    sans: Vec<SanMatcher>,
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

// === impl ClientVerifier ===

impl ClientVerifier {
    /// A verifier for `validation`, or `None` when client certificates are not asked for (no
    /// validation context, none required). `mandatory`: a client without a certificate is
    /// refused; without a validation context any certificate is then accepted, as in Envoy.
    pub(super) fn new(
        validation: Validation,
        mandatory: bool,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Option<Arc<Self>>, String> {
        let algorithms = provider.signature_verification_algorithms;
        let (chain, sans) = match validation {
            Validation::None if !mandatory => return Ok(None),
            Validation::None | Validation::AcceptUntrusted => (None, Vec::new()),
            Validation::Verify { roots, sans } => {
                // Whether a certificate is required is decided here, not by the inner verifier.
                let chain =
                    WebPkiClientVerifier::builder_with_provider(roots, Arc::clone(provider))
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| e.to_string())?;
                (Some(chain), sans)
            }
        };
        // Envoy refuses a client without a certificate when SANs are to be matched.
        let mandatory = mandatory || !sans.is_empty();
        Ok(Some(Arc::new(Self {
            chain,
            sans,
            mandatory,
            algorithms,
        })))
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chain.as_ref().map_or(&[], |c| c.root_hint_subjects())
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let Some(chain) = &self.chain else {
            return Ok(ClientCertVerified::assertion());
        };
        chain.verify_client_cert(end_entity, intermediates, now)?;
        check_sans(end_entity, &self.sans)?;
        Ok(ClientCertVerified::assertion())
    }

    signature_checks!();
}
