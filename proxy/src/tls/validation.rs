//! `CertificateValidationContext`: how a peer's certificate is checked.
//!
//! Served: `trusted_ca` (the chain must lead to one of its certificates, and be valid now),
//! `match_typed_subject_alt_names` (with `san_type` `DNS`, `URI`, `EMAIL` or `IP_ADDRESS`; one
//! match of any matcher is enough, as in Envoy) and `trust_chain_verification`
//! (`ACCEPT_UNTRUSTED` accepts any certificate, chain and SANs alike, as Envoy does; it is
//! Istio's `insecureSkipVerify`). Without `trusted_ca` nothing is verified, as in Envoy; SAN
//! matchers without a `trusted_ca` are refused, as Envoy refuses them. Every other field is
//! refused.

use std::sync::Arc;

use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, certificate_validation_context::TrustChainVerification,
    subject_alt_name_matcher::SanType,
};
use mesh_common::path::FieldPath;
use rustls::RootCertStore;

use super::source::{self, Loaded};
use crate::{
    config_error::{FieldError, reject_if},
    route::StringMatch,
};

/// How the peer's certificate is checked.
#[derive(Clone, Debug)]
pub enum Validation {
    /// No `trusted_ca`: any certificate is accepted (Envoy verifies nothing without one).
    None,
    /// `trust_chain_verification: ACCEPT_UNTRUSTED`: any certificate is accepted.
    AcceptUntrusted,
    /// The chain must lead to `roots`, and a SAN must match one of `sans` when there are any.
    Verify {
        /// `trusted_ca`.
        roots: Arc<RootCertStore>,
        /// `match_typed_subject_alt_names`.
        sans: Vec<SanMatcher>,
    },
}

/// One `match_typed_subject_alt_names` entry.
#[derive(Clone, Debug)]
pub struct SanMatcher {
    /// Which SANs it looks at.
    pub kind: SanKind,
    /// What one of them must match.
    pub matcher: StringMatch,
}

/// A SAN type that can be matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SanKind {
    /// `DNS`.
    Dns,
    /// `URI` (SPIFFE IDs).
    Uri,
    /// `EMAIL`.
    Email,
    /// `IP_ADDRESS`, as text (`10.0.0.1`, `::1`).
    Ip,
}

/// Compiles the validation context at `path`; `loaded` collects what was read, for the
/// context's fingerprint.
pub fn compile(
    v: &CertificateValidationContext,
    path: &FieldPath,
    loaded: &mut Vec<Loaded>,
) -> Result<Validation, FieldError> {
    reject_if(
        v.ca_certificate_provider_instance.is_some(),
        path,
        "ca_certificate_provider_instance",
    )?;
    reject_if(v.system_root_certs.is_some(), path, "system_root_certs")?;
    reject_if(v.watched_directory.is_some(), path, "watched_directory")?;
    reject_if(
        !v.verify_certificate_spki.is_empty(),
        path,
        "verify_certificate_spki",
    )?;
    reject_if(
        !v.verify_certificate_hash.is_empty(),
        path,
        "verify_certificate_hash",
    )?;
    #[allow(deprecated)]
    let legacy_sans = !v.match_subject_alt_names.is_empty();
    reject_if(legacy_sans, path, "match_subject_alt_names")?;
    reject_if(
        v.require_signed_certificate_timestamp.is_some(),
        path,
        "require_signed_certificate_timestamp",
    )?;
    reject_if(v.crl.is_some(), path, "crl")?;
    reject_if(
        v.allow_expired_certificate,
        path,
        "allow_expired_certificate",
    )?;
    reject_if(
        v.custom_validator_config.is_some(),
        path,
        "custom_validator_config",
    )?;
    reject_if(
        v.only_verify_leaf_cert_crl,
        path,
        "only_verify_leaf_cert_crl",
    )?;
    reject_if(v.max_verify_depth.is_some(), path, "max_verify_depth")?;
    reject_if(v.suppress_client_ca_list, path, "suppress_client_ca_list")?;
    let sans = san_matchers(v, path)?;
    let trust = v.trust_chain_verification;
    match TrustChainVerification::try_from(trust) {
        Ok(TrustChainVerification::AcceptUntrusted) => {
            // Still read, so that a bad file is reported whatever the mode.
            if let Some(ca) = source::load(v.trusted_ca.as_ref(), &path.field("trusted_ca"))? {
                source::certificates(&ca)?;
                loaded.push(ca);
            }
            return Ok(Validation::AcceptUntrusted);
        }
        Ok(TrustChainVerification::VerifyTrustChain) => {}
        Err(_) => {
            return Err(FieldError::new(
                path.field("trust_chain_verification"),
                format!("unknown value {trust}"),
            ));
        }
    }
    let Some(ca) = source::load(v.trusted_ca.as_ref(), &path.field("trusted_ca"))? else {
        if !sans.is_empty() {
            return Err(FieldError::new(
                path.field("match_typed_subject_alt_names"),
                "needs trusted_ca: matching SANs of a certificate that is not verified is \
                 insecure",
            ));
        }
        return Ok(Validation::None);
    };
    let mut roots = RootCertStore::empty();
    for cert in source::certificates(&ca)? {
        roots.add(cert).map_err(|e| {
            FieldError::new(
                ca.path.clone(),
                format!("{}: not a usable CA certificate: {e}", ca.origin),
            )
        })?;
    }
    loaded.push(ca);
    Ok(Validation::Verify {
        roots: Arc::new(roots),
        sans,
    })
}

fn san_matchers(
    v: &CertificateValidationContext,
    path: &FieldPath,
) -> Result<Vec<SanMatcher>, FieldError> {
    let path = path.field("match_typed_subject_alt_names");
    let mut sans = Vec::new();
    for (i, m) in v.match_typed_subject_alt_names.iter().enumerate() {
        let path = path.index(i);
        let kind = match SanType::try_from(m.san_type) {
            Ok(SanType::Dns) => SanKind::Dns,
            Ok(SanType::Uri) => SanKind::Uri,
            Ok(SanType::Email) => SanKind::Email,
            Ok(SanType::IpAddress) => SanKind::Ip,
            Ok(SanType::OtherName) => {
                return Err(FieldError::new(
                    path.field("san_type"),
                    "OTHER_NAME is not supported by mesh-proxy",
                ));
            }
            Ok(SanType::Unspecified) | Err(_) => {
                return Err(FieldError::new(
                    path.field("san_type"),
                    "must be DNS, URI, EMAIL or IP_ADDRESS",
                ));
            }
        };
        reject_if(!m.oid.is_empty(), &path, "oid")?;
        let matcher = match &m.matcher {
            Some(matcher) => StringMatch::compile(matcher, &path.field("matcher"))?,
            None => return Err(FieldError::new(path.field("matcher"), "is required")),
        };
        sans.push(SanMatcher { kind, matcher });
    }
    Ok(sans)
}

// === impl SanMatcher ===

impl SanMatcher {
    /// Whether `value`, a SAN of this matcher's kind, matches. An `exact` DNS matcher also
    /// matches a wildcard SAN (`*.example.com` covers `a.example.com`), as Envoy's does.
    pub fn matches(&self, value: &str) -> bool {
        match (&self.kind, &self.matcher) {
            (SanKind::Dns, StringMatch::Exact { value: name, .. }) => dns_name_match(name, value),
            (_, matcher) => matcher.matches(value),
        }
    }
}

/// Envoy's `dnsNameMatch`: `name` against a certificate's `pattern`, ASCII case-insensitive;
/// a leading `*.` in the pattern stands for exactly one label.
fn dns_name_match(name: &str, pattern: &str) -> bool {
    let (name, pattern) = (name.to_ascii_lowercase(), pattern.to_ascii_lowercase());
    if name == pattern {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(suffix) if suffix.starts_with('.') && name.len() > suffix.len() => {
            let (label, rest) = name.split_at(name.len() - suffix.len());
            rest == suffix && !label.contains('.')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::dns_name_match;

    #[test]
    fn dns_wildcards_cover_one_label() {
        assert!(dns_name_match("api.example.com", "api.example.com"));
        assert!(dns_name_match("API.example.com", "api.EXAMPLE.com"));
        assert!(dns_name_match("a.example.com", "*.example.com"));
        assert!(!dns_name_match("a.b.example.com", "*.example.com"));
        assert!(!dns_name_match("example.com", "*.example.com"));
        assert!(!dns_name_match("a.example.org", "*.example.com"));
    }
}
