//! The TLS a proxy originates to a destination, from a DestinationRule's `tls` (merged across
//! levels as the rest of the policy), as Istio's `buildUpstreamClusterTLSContext` builds the
//! cluster's `UpstreamTlsContext` — with the files named in the rule read by the proxy itself,
//! where Istio has its agent serve them over SDS, and a `credentialName`'s Secret served by the
//! control plane over SDS (ADS), as istiod serves it.

use envoy_types::pb::envoy::{
    config::core::v3::{TransportSocket, transport_socket},
    extensions::transport_sockets::tls::v3::{
        CertificateValidationContext, CommonTlsContext, TlsCertificate, UpstreamTlsContext,
        certificate_validation_context::TrustChainVerification,
        common_tls_context::{CombinedCertificateValidationContext, ValidationContextType},
    },
};
use envoy_types::util::pack_any;
use mesh_common::api::{ClientTlsMode, ClientTlsSettings};

pub(super) use crate::translate::tls::TLS_TRANSPORT_SOCKET;
use crate::{
    model::{SDS_CA_SUFFIX, SDS_PREFIX},
    translate::tls::{file, sds, subject_alt_names},
};

/// How a cluster's connections leave the proxy.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Origination {
    /// As they are: no `tls`, or mode `DISABLE` (Istio's default mode).
    Plaintext,
    /// Wrapped in TLS: mode `SIMPLE` or `MUTUAL`, with the rule's files or its
    /// `credentialName`.
    Tls(Box<TransportSocket>),
    /// TLS that mesh.rs cannot originate yet: `ISTIO_MUTUAL` (workloads have no certificates
    /// yet). Sending such traffic in plaintext, or without the verification the rule asks for,
    /// would go against the rule, so the cluster gets no endpoints instead and its requests
    /// fail; validation reports why.
    Unserved,
}

/// The origination of a cluster under `tls`; `h2` says whether the cluster speaks HTTP/2 alone,
/// which TLS then offers with ALPN (`h2`), as Istio does.
///
/// `SIMPLE` and `MUTUAL` give an `UpstreamTlsContext` with: `sni` when the rule sets one (Istio
/// leaves it unset too, and has Envoy take the request's host as SNI, `auto_sni`, which
/// mesh-proxy does not do: validation says so); `caCertificates` → the trusted CA file, with
/// each of `subjectAltNames` required of the server's certificate (as a DNS, URI, email or IP
/// SAN); `insecureSkipVerify` → `trust_chain_verification: ACCEPT_UNTRUSTED` and no CA; and for
/// `MUTUAL`, `clientCertificate` and `privateKey` → the client's certificate. Without
/// `caCertificates` the server's certificate is not verified (Istio verifies it against the
/// system's roots; validation says so). `caCrl` is not sent (reported as planned).
///
/// `credentialName` replaces the files with SDS references over ADS, named as Istio names them
/// (Istio's `ApplyCustomSDSToClientCommonTLSContext`): for `MUTUAL` the client certificate
/// `kubernetes://<credentialName>`, and unless `insecureSkipVerify`, the CA
/// `kubernetes://<credentialName>-cacert` in a combined validation context whose default part
/// holds the `subjectAltNames`. The proxy resolves them in its own namespace.
pub(super) fn origination(tls: Option<&ClientTlsSettings>, h2: bool) -> Origination {
    let Some(tls) = tls else {
        return Origination::Plaintext;
    };
    let mutual = match tls.mode {
        None | Some(ClientTlsMode::Disable) => return Origination::Plaintext,
        Some(ClientTlsMode::IstioMutual) => return Origination::Unserved,
        Some(ClientTlsMode::Simple) => false,
        Some(ClientTlsMode::Mutual) => true,
    };
    // Validation rejects MUTUAL without its files; Istio would then send plaintext, which is
    // never right for a rule that asks for TLS.
    let missing_files = mutual && (tls.client_certificate.is_empty() || tls.private_key.is_empty());
    let credential = tls.credential_name.as_str();
    if credential.is_empty() && missing_files {
        return Origination::Unserved;
    }
    let mut common = CommonTlsContext::default();
    if mutual && !credential.is_empty() {
        common.tls_certificate_sds_secret_configs = vec![sds(format!("{SDS_PREFIX}{credential}"))];
    } else if mutual {
        common.tls_certificates = vec![TlsCertificate {
            certificate_chain: Some(file(&tls.client_certificate)),
            private_key: Some(file(&tls.private_key)),
            ..TlsCertificate::default()
        }];
    }
    let validation = if tls.insecure_skip_verify == Some(true) {
        Some(CertificateValidationContext {
            trust_chain_verification: TrustChainVerification::AcceptUntrusted as i32,
            ..CertificateValidationContext::default()
        })
    } else if !credential.is_empty() {
        common.validation_context_type = Some(ValidationContextType::CombinedValidationContext(
            CombinedCertificateValidationContext {
                default_validation_context: Some(CertificateValidationContext {
                    match_typed_subject_alt_names: subject_alt_names(&tls.subject_alt_names),
                    ..CertificateValidationContext::default()
                }),
                validation_context_sds_secret_config: Some(sds(format!(
                    "{SDS_PREFIX}{credential}{SDS_CA_SUFFIX}"
                ))),
                ..CombinedCertificateValidationContext::default()
            },
        ));
        None
    } else if !tls.ca_certificates.is_empty() {
        Some(CertificateValidationContext {
            trusted_ca: Some(file(&tls.ca_certificates)),
            match_typed_subject_alt_names: subject_alt_names(&tls.subject_alt_names),
            ..CertificateValidationContext::default()
        })
    } else {
        None
    };
    if let Some(validation) = validation {
        common.validation_context_type = Some(ValidationContextType::ValidationContext(validation));
    }
    if h2 {
        common.alpn_protocols = vec!["h2".to_string()];
    }
    let context = UpstreamTlsContext {
        common_tls_context: Some(common),
        sni: tls.sni.clone(),
        ..UpstreamTlsContext::default()
    };
    Origination::Tls(Box::new(TransportSocket {
        name: TLS_TRANSPORT_SOCKET.to_string(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(context))),
    }))
}

#[cfg(test)]
mod tests;
