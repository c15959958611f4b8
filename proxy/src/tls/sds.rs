//! Secrets over SDS (ADS only), and the resolution of a `CommonTlsContext`'s secret references.
//!
//! A reference (`tls_certificate_sds_secret_configs[]`, `validation_context_sds_secret_config`,
//! or the one of `combined_validation_context`) without `sds_config` names a static secret of
//! the bootstrap; with `sds_config: { ads: {} }` it names a secret the control plane sends over
//! the ADS stream, by name. [`resolve_common`] replaces every reference by its secret, as Envoy
//! does when it builds the context, or says which SDS secrets have not arrived yet: the context
//! (a cluster's, or a listener's filter chain's) is warming until they do. Secrets received are checked
//! as static secrets are ([`DynamicSecret::check`]), and additionally a certificate's key must
//! match it.

use std::{
    collections::{BTreeSet, HashMap},
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
};

use envoy_types::pb::envoy::{
    config::core::v3::{ApiVersion, ConfigSource, config_source::ConfigSourceSpecifier},
    extensions::transport_sockets::tls::v3::{
        CommonTlsContext, SdsSecretConfig, Secret, common_tls_context::ValidationContextType,
        secret,
    },
};
use mesh_common::path::FieldPath;
use prost::Message;
use rustls::{crypto::ring, sign::CertifiedKey};

use super::{
    StaticSecrets,
    common::{self, TlsContext},
    params::Side,
    secrets,
};
use crate::config_error::{FieldError, reject_if};

/// The secrets received over SDS, by name.
pub type DynamicSecrets = HashMap<String, Arc<DynamicSecret>>;

/// A secret received over SDS, checked.
#[derive(Clone)]
pub struct DynamicSecret {
    kind: secret::Type,
    digest: u64,
}

/// What resolving a context's secret references gave.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolution {
    /// Every reference replaced by its secret.
    Resolved(CommonTlsContext),
    /// Some SDS secrets have not arrived.
    Missing {
        /// Their names.
        names: BTreeSet<String>,
        /// The context with the secrets that are there, without the missing ones: it compiles
        /// when everything but the missing secrets is right, which is worth knowing before
        /// they arrive.
        partial: CommonTlsContext,
    },
}

/// What a reference points at, for [`resolve_refs`].
pub(super) enum Found<'a> {
    /// The secret, and how errors call it (`static secret`).
    Secret(&'a secret::Type, &'static str),
    /// An SDS secret that has not arrived.
    Missing,
    /// Left in the context as it is, for compilation to judge.
    Keep,
}

// === impl DynamicSecret ===

impl DynamicSecret {
    /// Checks `s` as a static secret is checked (a served type, files read, PEM parsed) and a
    /// certificate's key against the certificate; paths are relative to the secret.
    pub fn check(s: &Secret) -> Result<Self, FieldError> {
        let kind = secrets::check(s, &FieldPath::root())?;
        if let secret::Type::TlsCertificate(t) = kind {
            let context = CommonTlsContext {
                tls_certificates: vec![t.clone()],
                ..CommonTlsContext::default()
            };
            // It compiled in `check`: this only reads the same sources again.
            if let Ok(TlsContext {
                certificate: Some(certificate),
                ..
            }) = common::compile(&context, Side::Client, &FieldPath::root())
            {
                CertifiedKey::from_der(
                    certificate.chain,
                    certificate.key,
                    &ring::default_provider(),
                )
                .map_err(|e| {
                    let path = FieldPath::parse("tls_certificate.private_key");
                    match e {
                        rustls::Error::InconsistentKeys(_) => FieldError::new(
                            path,
                            "does not match the certificate of certificate_chain",
                        ),
                        e => FieldError::new(path, format!("cannot be used: {e}")),
                    }
                })?;
            }
        }
        let mut hasher = DefaultHasher::new();
        s.encode_to_vec().hash(&mut hasher);
        Ok(Self {
            kind: kind.clone(),
            digest: hasher.finish(),
        })
    }

    /// Identifies the secret's content: equal digests, same secret.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The field that holds the secret: `tls_certificate` or `validation_context`.
    pub fn field(&self) -> &'static str {
        match self.kind {
            secret::Type::TlsCertificate(_) => "tls_certificate",
            secret::Type::ValidationContext(_) => "validation_context",
            secret::Type::SessionTicketKeys(_) => "session_ticket_keys",
            secret::Type::GenericSecret(_) => "generic_secret",
        }
    }
}

// Never prints the secret: a certificate's key is in it.
impl std::fmt::Debug for DynamicSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicSecret")
            .field("type", &self.field())
            .field("digest", &self.digest)
            .finish()
    }
}

/// Resolves the secret references of `c`, found at `path`: those without `sds_config` against
/// `statics` (left for compilation to refuse when there are none), those with one against
/// `dynamic`. Refused: an `sds_config` other than ADS, an unknown static secret, a secret of
/// the wrong type.
pub fn resolve_common(
    c: &CommonTlsContext,
    statics: Option<&StaticSecrets>,
    dynamic: &DynamicSecrets,
    path: &FieldPath,
) -> Result<Resolution, FieldError> {
    let (context, missing) = resolve_refs(c, path, &|r, path| match &r.sds_config {
        Some(source) => {
            check_sds_config(source, &path.field("sds_config"))?;
            if r.name.is_empty() {
                return Err(FieldError::new(path.field("name"), "must not be empty"));
            }
            Ok(dynamic
                .get(&r.name)
                .map_or(Found::Missing, |s| Found::Secret(&s.kind, "SDS secret")))
        }
        None => match statics {
            Some(statics) => statics
                .lookup(&r.name, path)
                .map(|kind| Found::Secret(kind, "static secret")),
            None => Ok(Found::Keep),
        },
    })?;
    Ok(if missing.is_empty() {
        Resolution::Resolved(context)
    } else {
        Resolution::Missing {
            names: missing,
            partial: context,
        }
    })
}

/// The names of the secrets `c` references over SDS.
pub fn referenced_secrets(c: &CommonTlsContext) -> BTreeSet<String> {
    let validation = match &c.validation_context_type {
        Some(ValidationContextType::ValidationContextSdsSecretConfig(r)) => Some(r),
        Some(ValidationContextType::CombinedValidationContext(combined)) => {
            combined.validation_context_sds_secret_config.as_ref()
        }
        _ => None,
    };
    c.tls_certificate_sds_secret_configs
        .iter()
        .chain(validation)
        .filter(|r| r.sds_config.is_some())
        .map(|r| r.name.clone())
        .collect()
}

/// `c` with its references replaced as `lookup` says, and the names it found missing.
pub(super) fn resolve_refs<'a>(
    c: &CommonTlsContext,
    path: &FieldPath,
    lookup: &dyn Fn(&SdsSecretConfig, &FieldPath) -> Result<Found<'a>, FieldError>,
) -> Result<(CommonTlsContext, BTreeSet<String>), FieldError> {
    let mut out = c.clone();
    let mut missing = BTreeSet::new();
    out.tls_certificate_sds_secret_configs.clear();
    for (i, r) in c.tls_certificate_sds_secret_configs.iter().enumerate() {
        let path = path.field("tls_certificate_sds_secret_configs").index(i);
        match lookup(r, &path)? {
            Found::Keep => out.tls_certificate_sds_secret_configs.push(r.clone()),
            Found::Missing => {
                missing.insert(r.name.clone());
            }
            Found::Secret(secret::Type::TlsCertificate(t), _) => {
                out.tls_certificates.push(t.clone())
            }
            Found::Secret(_, what) => return Err(not_a(what, &r.name, "tls_certificate", &path)),
        }
    }
    match &c.validation_context_type {
        Some(ValidationContextType::ValidationContextSdsSecretConfig(r)) => {
            let path = path.field("validation_context_sds_secret_config");
            match lookup(r, &path)? {
                Found::Keep => {}
                Found::Missing => {
                    missing.insert(r.name.clone());
                    out.validation_context_type = None;
                }
                Found::Secret(secret::Type::ValidationContext(v), _) => {
                    out.validation_context_type =
                        Some(ValidationContextType::ValidationContext(v.clone()));
                }
                Found::Secret(_, what) => {
                    return Err(not_a(what, &r.name, "validation_context", &path));
                }
            }
        }
        Some(ValidationContextType::CombinedValidationContext(combined)) => {
            let path = path
                .field("combined_validation_context")
                .field("validation_context_sds_secret_config");
            // Without a reference, compilation refuses the combined context.
            let Some(r) = &combined.validation_context_sds_secret_config else {
                return Ok((out, missing));
            };
            let mut merged = combined
                .default_validation_context
                .clone()
                .unwrap_or_default();
            match lookup(r, &path)? {
                Found::Keep => return Ok((out, missing)),
                // Left out, as a missing validation secret is: the default alone may not
                // compile (SAN matchers need the secret's CA), and is checked with it.
                Found::Missing => {
                    missing.insert(r.name.clone());
                    out.validation_context_type = None;
                    return Ok((out, missing));
                }
                Found::Secret(secret::Type::ValidationContext(v), _) => merged
                    .merge(v.encode_to_vec().as_slice())
                    .map_err(|e| FieldError::new(path, format!("cannot merge: {e}")))?,
                Found::Secret(_, what) => {
                    return Err(not_a(what, &r.name, "validation_context", &path));
                }
            }
            out.validation_context_type = Some(ValidationContextType::ValidationContext(merged));
        }
        _ => {}
    }
    Ok((out, missing))
}

/// Only ADS serves secrets: the proxy has no other stream to fetch them on.
fn check_sds_config(c: &ConfigSource, path: &FieldPath) -> Result<(), FieldError> {
    #[allow(deprecated)]
    let other = match &c.config_source_specifier {
        Some(ConfigSourceSpecifier::Ads(_)) => None,
        None => Some(path.clone()),
        Some(ConfigSourceSpecifier::Path(_)) => Some(path.field("path")),
        Some(ConfigSourceSpecifier::PathConfigSource(_)) => Some(path.field("path_config_source")),
        Some(ConfigSourceSpecifier::ApiConfigSource(_)) => Some(path.field("api_config_source")),
        Some(ConfigSourceSpecifier::Self_(_)) => Some(path.field("self")),
    };
    if let Some(path) = other {
        return Err(FieldError::new(
            path,
            "mesh-proxy fetches secrets over ADS only: use `ads: {}`",
        ));
    }
    reject_if(!c.authorities.is_empty(), path, "authorities")?;
    if ![ApiVersion::Auto as i32, ApiVersion::V3 as i32].contains(&c.resource_api_version) {
        return Err(FieldError::new(
            path.field("resource_api_version"),
            "must be V3",
        ));
    }
    if c.initial_fetch_timeout
        .as_ref()
        .is_some_and(|d| d.seconds != 0 || d.nanos != 0)
    {
        return Err(FieldError::new(
            path.field("initial_fetch_timeout"),
            "only 0s is supported by mesh-proxy: a context waits for its secrets as long as \
             they take",
        ));
    }
    Ok(())
}

fn not_a(what: &str, name: &str, kind: &str, path: &FieldPath) -> FieldError {
    FieldError::new(
        path.field("name"),
        format!("{what} {name:?} is not a {kind}"),
    )
}

#[cfg(test)]
mod tests;
