//! The bootstrap's `static_resources.secrets`, and their use by the bootstrap's static clusters.
//!
//! A secret is checked when the bootstrap loads (its files read, its PEM parsed), then inlined
//! into each static cluster that names it without an `sds_config`, as Envoy resolves static
//! secrets: `tls_certificate_sds_secret_configs` become `tls_certificates`,
//! `validation_context_sds_secret_config` becomes `validation_context`, and a
//! `combined_validation_context` becomes its `default_validation_context` merged with the
//! secret (protobuf merge: singular fields replaced, lists appended), as Envoy merges them.
//! Served secret types: `tls_certificate` and `validation_context`.

use std::collections::HashMap;

use envoy_types::pb::{
    envoy::{
        config::cluster::v3::Cluster,
        extensions::transport_sockets::tls::v3::{
            CommonTlsContext, Secret, UpstreamTlsContext,
            common_tls_context::ValidationContextType, secret,
        },
    },
    google::protobuf::Any,
};
use mesh_common::path::FieldPath;
use prost::{Message, Name};

use super::{common, params::Side, validation};
use crate::config_error::FieldError;

/// The checked `static_resources.secrets`, by name.
#[derive(Clone, Debug, Default)]
pub struct StaticSecrets {
    by_name: HashMap<String, secret::Type>,
}

// === impl StaticSecrets ===

impl StaticSecrets {
    /// Checks `secrets`, found at `path`: unique names, served types, readable and valid PEM.
    pub fn compile(secrets: &[Secret], path: &FieldPath) -> Result<Self, FieldError> {
        let mut by_name = HashMap::new();
        for (i, s) in secrets.iter().enumerate() {
            let path = path.index(i);
            if s.name.is_empty() {
                return Err(FieldError::new(path.field("name"), "must not be empty"));
            }
            let Some(kind) = &s.r#type else {
                return Err(FieldError::new(path, "has no secret"));
            };
            match kind {
                secret::Type::TlsCertificate(t) => {
                    let context = CommonTlsContext {
                        tls_certificates: vec![t.clone()],
                        ..CommonTlsContext::default()
                    };
                    common::compile(&context, Side::Client, &FieldPath::root())
                        .map_err(|e| rebase(e, "tls_certificates[0]", &path, "tls_certificate"))?;
                }
                secret::Type::ValidationContext(v) => {
                    validation::compile(v, &path.field("validation_context"), &mut Vec::new())?;
                }
                secret::Type::SessionTicketKeys(_) => {
                    return Err(FieldError::unsupported(path.field("session_ticket_keys")));
                }
                secret::Type::GenericSecret(_) => {
                    return Err(FieldError::unsupported(path.field("generic_secret")));
                }
            }
            if by_name.insert(s.name.clone(), kind.clone()).is_some() {
                return Err(FieldError::new(
                    path.field("name"),
                    format!("{:?} is the name of an earlier secret", s.name),
                ));
            }
        }
        Ok(Self { by_name })
    }
}

/// Replaces, in `cluster` (found at `path`), the references to static secrets of its
/// `UpstreamTlsContext` by the secrets themselves. References with an `sds_config` stay, for
/// compilation to refuse.
pub fn inline_static_secrets(
    cluster: &mut Cluster,
    secrets: &StaticSecrets,
    path: &FieldPath,
) -> Result<(), FieldError> {
    let Some(socket) = cluster.transport_socket.as_mut() else {
        return Ok(());
    };
    let Some(envoy_types::pb::envoy::config::core::v3::transport_socket::ConfigType::TypedConfig(
        any,
    )) = socket.config_type.as_mut()
    else {
        return Ok(());
    };
    if any.type_url != UpstreamTlsContext::type_url() {
        return Ok(());
    }
    // Malformed bytes are left for compilation to report.
    let Ok(mut context) = UpstreamTlsContext::decode(any.value.as_slice()) else {
        return Ok(());
    };
    let Some(common) = context.common_tls_context.as_mut() else {
        return Ok(());
    };
    let path = path
        .field("transport_socket")
        .field("typed_config")
        .field("common_tls_context");
    inline_common(common, secrets, &path)?;
    *any = Any {
        type_url: UpstreamTlsContext::type_url(),
        value: context.encode_to_vec(),
    };
    Ok(())
}

fn inline_common(
    c: &mut CommonTlsContext,
    secrets: &StaticSecrets,
    path: &FieldPath,
) -> Result<(), FieldError> {
    let refs = std::mem::take(&mut c.tls_certificate_sds_secret_configs);
    for (i, r) in refs.into_iter().enumerate() {
        if r.sds_config.is_some() {
            c.tls_certificate_sds_secret_configs.push(r);
            continue;
        }
        let path = path.field("tls_certificate_sds_secret_configs").index(i);
        match secrets.lookup(&r.name, &path)? {
            secret::Type::TlsCertificate(t) => c.tls_certificates.push(t.clone()),
            _ => return Err(not_a(&r.name, "tls_certificate", &path)),
        }
    }
    let inlined = match &c.validation_context_type {
        Some(ValidationContextType::ValidationContextSdsSecretConfig(r))
            if r.sds_config.is_none() =>
        {
            let path = path.field("validation_context_sds_secret_config");
            match secrets.lookup(&r.name, &path)? {
                secret::Type::ValidationContext(v) => v.clone(),
                _ => return Err(not_a(&r.name, "validation_context", &path)),
            }
        }
        Some(ValidationContextType::CombinedValidationContext(combined)) => {
            let path = path
                .field("combined_validation_context")
                .field("validation_context_sds_secret_config");
            let Some(r) = combined
                .validation_context_sds_secret_config
                .as_ref()
                .filter(|r| r.sds_config.is_none())
            else {
                return Ok(());
            };
            let dynamic = match secrets.lookup(&r.name, &path)? {
                secret::Type::ValidationContext(v) => v,
                _ => return Err(not_a(&r.name, "validation_context", &path)),
            };
            let mut merged = combined
                .default_validation_context
                .clone()
                .unwrap_or_default();
            merged
                .merge(dynamic.encode_to_vec().as_slice())
                .map_err(|e| FieldError::new(path, format!("cannot merge: {e}")))?;
            merged
        }
        _ => return Ok(()),
    };
    c.validation_context_type = Some(ValidationContextType::ValidationContext(inlined));
    Ok(())
}

// === impl StaticSecrets ===

impl StaticSecrets {
    fn lookup(&self, name: &str, path: &FieldPath) -> Result<&secret::Type, FieldError> {
        self.by_name.get(name).ok_or_else(|| {
            FieldError::new(
                path.field("name"),
                format!("no secret {name:?} in static_resources.secrets"),
            )
        })
    }
}

fn not_a(name: &str, kind: &str, path: &FieldPath) -> FieldError {
    FieldError::new(
        path.field("name"),
        format!("static secret {name:?} is not a {kind}"),
    )
}

/// `error`, found in a context built around a secret's content, moved to the secret's path.
fn rebase(error: FieldError, built: &str, secret: &FieldPath, field: &str) -> FieldError {
    let text = error.path.to_string();
    let rest = text.strip_prefix(built).unwrap_or(&text);
    FieldError::new(
        FieldPath::parse(&format!("{}{rest}", secret.field(field))),
        error.reason,
    )
}
