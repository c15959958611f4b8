//! `CommonTlsContext`: the certificate a side presents, how it checks its peer, ALPN and
//! protocol parameters. Shared by upstream (`UpstreamTlsContext`) and downstream
//! (`DownstreamTlsContext`) contexts.
//!
//! Served: `tls_params` (see `params.rs`), one entry of `tls_certificates` (`certificate_chain`
//! and `private_key` as PEM `DataSource`s), `alpn_protocols`, `validation_context` (see
//! `validation.rs`). Secrets by name (`tls_certificate_sds_secret_configs`,
//! `validation_context_sds_secret_config`, and the one of `combined_validation_context`) are
//! resolved before compilation, from the bootstrap's `static_resources.secrets` or from SDS (see
//! [`resolve_common`](super::resolve_common)); a reference still here was not resolved, and is
//! refused. Every other field is refused.

use std::hash::{DefaultHasher, Hash, Hasher};

use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CommonTlsContext, SdsSecretConfig, TlsCertificate, common_tls_context::ValidationContextType,
};
use mesh_common::path::FieldPath;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::{
    params::{self, Params, Side},
    source::{self, Loaded},
    validation::{self, Validation},
};
use crate::config_error::{FieldError, reject_if};

/// A compiled `CommonTlsContext`.
#[derive(Debug)]
pub struct TlsContext {
    /// The certificate presented to the peer, if any.
    pub certificate: Option<Certificate>,
    /// How the peer's certificate is checked.
    pub validation: Validation,
    /// `alpn_protocols`, in preference order.
    pub alpn: Vec<Vec<u8>>,
    /// `tls_params`.
    pub params: Params,
    /// A hash of every file and inline source read, so that a change of their content makes a
    /// different context.
    pub material: u64,
}

/// A certificate chain and its private key.
pub struct Certificate {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The chain's key.
    pub key: PrivateKeyDer<'static>,
}

/// Compiles the context at `path` for `side`.
pub fn compile(
    c: &CommonTlsContext,
    side: Side,
    path: &FieldPath,
) -> Result<TlsContext, FieldError> {
    let params = params::compile(c.tls_params.as_ref(), side, &path.field("tls_params"))?;
    reject_if(
        c.tls_certificate_provider_instance.is_some(),
        path,
        "tls_certificate_provider_instance",
    )?;
    reject_if(
        c.custom_tls_certificate_selector.is_some(),
        path,
        "custom_tls_certificate_selector",
    )?;
    #[allow(deprecated)]
    let providers = c.tls_certificate_certificate_provider.is_some()
        || c.tls_certificate_certificate_provider_instance.is_some();
    reject_if(providers, path, "tls_certificate_certificate_provider")?;
    reject_if(c.custom_handshaker.is_some(), path, "custom_handshaker")?;
    reject_if(c.key_log.is_some(), path, "key_log")?;
    if let Some(secret) = c.tls_certificate_sds_secret_configs.first() {
        let path = path.field("tls_certificate_sds_secret_configs").index(0);
        return Err(unresolved_secret(secret, &path));
    }
    let mut loaded = Vec::new();
    let certificate = match c.tls_certificates.as_slice() {
        [] => None,
        [one] => Some(certificate(
            one,
            &path.field("tls_certificates").index(0),
            &mut loaded,
        )?),
        _ => {
            return Err(FieldError::new(
                path.field("tls_certificates").index(1),
                "only one certificate is supported in this context",
            ));
        }
    };
    let validation = match &c.validation_context_type {
        None => Validation::None,
        Some(ValidationContextType::ValidationContext(v)) => {
            validation::compile(v, &path.field("validation_context"), &mut loaded)?
        }
        Some(ValidationContextType::ValidationContextSdsSecretConfig(secret)) => {
            let path = path.field("validation_context_sds_secret_config");
            return Err(unresolved_secret(secret, &path));
        }
        Some(ValidationContextType::CombinedValidationContext(combined)) => {
            let path = path.field("combined_validation_context");
            return Err(match &combined.validation_context_sds_secret_config {
                Some(secret) => {
                    unresolved_secret(secret, &path.field("validation_context_sds_secret_config"))
                }
                None => FieldError::new(
                    path.field("validation_context_sds_secret_config"),
                    "is required",
                ),
            });
        }
        #[allow(deprecated)]
        Some(
            ValidationContextType::ValidationContextCertificateProvider(_)
            | ValidationContextType::ValidationContextCertificateProviderInstance(_),
        ) => {
            return Err(FieldError::unsupported(
                path.field("validation_context_certificate_provider"),
            ));
        }
    };
    let mut alpn = Vec::new();
    for (i, protocol) in c.alpn_protocols.iter().enumerate() {
        if protocol.is_empty() || protocol.len() > 255 {
            return Err(FieldError::new(
                path.field("alpn_protocols").index(i),
                "must be 1 to 255 bytes long",
            ));
        }
        alpn.push(protocol.as_bytes().to_vec());
    }
    let mut hasher = DefaultHasher::new();
    for source in &loaded {
        source.bytes.hash(&mut hasher);
    }
    Ok(TlsContext {
        certificate,
        validation,
        alpn,
        params,
        material: hasher.finish(),
    })
}

fn certificate(
    t: &TlsCertificate,
    path: &FieldPath,
    loaded: &mut Vec<Loaded>,
) -> Result<Certificate, FieldError> {
    reject_if(t.pkcs12.is_some(), path, "pkcs12")?;
    reject_if(t.watched_directory.is_some(), path, "watched_directory")?;
    reject_if(
        t.private_key_provider.is_some(),
        path,
        "private_key_provider",
    )?;
    reject_if(t.password.is_some(), path, "password")?;
    reject_if(t.ocsp_staple.is_some(), path, "ocsp_staple")?;
    reject_if(
        !t.signed_certificate_timestamp.is_empty(),
        path,
        "signed_certificate_timestamp",
    )?;
    reject_if(t.tls_params.is_some(), path, "tls_params")?;
    let required = |field: &str| FieldError::new(path.field(field), "is required");
    let chain = source::load(
        t.certificate_chain.as_ref(),
        &path.field("certificate_chain"),
    )?
    .ok_or_else(|| required("certificate_chain"))?;
    let key = source::load(t.private_key.as_ref(), &path.field("private_key"))?
        .ok_or_else(|| required("private_key"))?;
    let certificate = Certificate {
        chain: source::certificates(&chain)?,
        key: source::private_key(&key)?,
    };
    loaded.extend([chain, key]);
    Ok(certificate)
}

/// A secret reference at `path` that was not resolved before compilation: applying a cluster
/// or listener resolves them, compiling one alone does not.
pub(super) fn unresolved_secret(secret: &SdsSecretConfig, path: &FieldPath) -> FieldError {
    let what = match secret.sds_config {
        Some(_) => "SDS secret",
        None => "static secret",
    };
    FieldError::new(
        path.field("name"),
        format!(
            "{what} {:?} is not resolved: secrets are resolved when a resource is applied",
            secret.name
        ),
    )
}

// === impl Certificate ===

impl Clone for Certificate {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

// Never prints the key.
impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("chain", &self.chain.len())
            .finish_non_exhaustive()
    }
}
