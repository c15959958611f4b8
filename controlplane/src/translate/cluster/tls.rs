//! The TLS a proxy originates to a destination, from a DestinationRule's `tls` (merged across
//! levels as the rest of the policy), as Istio's `buildUpstreamClusterTLSContext` builds the
//! cluster's `UpstreamTlsContext` — with the files named in the rule read by the proxy itself,
//! where Istio has its agent serve them over SDS, and a `credentialName`'s Secret served by the
//! control plane over SDS (ADS), as istiod serves it.

use envoy_types::pb::envoy::{
    config::core::v3::{
        AggregatedConfigSource, ApiVersion, ConfigSource, DataSource, TransportSocket,
        config_source::ConfigSourceSpecifier, data_source::Specifier, transport_socket,
    },
    extensions::transport_sockets::tls::v3::{
        CertificateValidationContext, CommonTlsContext, SdsSecretConfig, SubjectAltNameMatcher,
        TlsCertificate, UpstreamTlsContext,
        certificate_validation_context::TrustChainVerification,
        common_tls_context::{CombinedCertificateValidationContext, ValidationContextType},
        subject_alt_name_matcher::SanType,
    },
    r#type::matcher::v3::{StringMatcher, string_matcher::MatchPattern},
};
use envoy_types::util::pack_any;
use mesh_common::api::{ClientTlsMode, ClientTlsSettings};

use crate::model::{SDS_CA_SUFFIX, SDS_PREFIX};

/// The transport socket that originates TLS.
pub(super) const TLS_TRANSPORT_SOCKET: &str = "envoy.transport_sockets.tls";

/// The SAN types Envoy matches an untyped name against (its expansion of the deprecated
/// `match_subject_alt_names`, which Istio sets): a `subjectAltNames` entry matches a DNS, URI,
/// email or IP SAN equal to it.
const SAN_TYPES: [SanType; 4] = [
    SanType::Dns,
    SanType::Uri,
    SanType::Email,
    SanType::IpAddress,
];

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

/// A secret served over the ADS stream, as Istio's `SDSAdsConfig` names it.
fn sds(name: String) -> SdsSecretConfig {
    SdsSecretConfig {
        name,
        sds_config: Some(ConfigSource {
            config_source_specifier: Some(ConfigSourceSpecifier::Ads(
                AggregatedConfigSource::default(),
            )),
            resource_api_version: ApiVersion::V3 as i32,
            ..ConfigSource::default()
        }),
    }
}

fn file(path: &str) -> DataSource {
    DataSource {
        specifier: Some(Specifier::Filename(path.to_string())),
        ..DataSource::default()
    }
}

fn subject_alt_names(names: &[String]) -> Vec<SubjectAltNameMatcher> {
    names
        .iter()
        .flat_map(|name| {
            SAN_TYPES.map(|san_type| SubjectAltNameMatcher {
                san_type: san_type as i32,
                matcher: Some(StringMatcher {
                    match_pattern: Some(MatchPattern::Exact(name.clone())),
                    ..StringMatcher::default()
                }),
                ..SubjectAltNameMatcher::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
