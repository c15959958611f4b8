//! The bootstrap's `static_resources.secrets`, and their use by clusters and listeners.
//!
//! A secret is checked when the bootstrap loads (its files read, its PEM parsed), then inlined
//! into each static cluster and listener that names it without an `sds_config`, and resolved
//! the same way for those that come over xDS (see [`resolve_common`](super::resolve_common)),
//! as Envoy resolves static secrets: `tls_certificate_sds_secret_configs` become `tls_certificates`,
//! `validation_context_sds_secret_config` becomes `validation_context`, and a
//! `combined_validation_context` becomes its `default_validation_context` merged with the
//! secret (protobuf merge: singular fields replaced, lists appended), as Envoy merges them.
//! Served secret types: `tls_certificate` and `validation_context`. Secrets over SDS are checked
//! and resolved the same way (see [`resolve_common`](super::resolve_common)).

use std::collections::HashMap;

use envoy_types::pb::{
    envoy::{
        config::cluster::v3::Cluster,
        extensions::transport_sockets::tls::v3::{
            CommonTlsContext, Secret, UpstreamTlsContext, secret,
        },
    },
    google::protobuf::Any,
};
use mesh_common::path::FieldPath;
use prost::{Message, Name};

use super::{
    common,
    params::Side,
    sds::{Found, resolve_refs},
    validation,
};
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
            let kind = check(s, &path)?;
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

/// Checks one secret found at `path`: a name, a served type, readable and valid PEM. The
/// secret's content on success.
pub(super) fn check<'a>(s: &'a Secret, path: &FieldPath) -> Result<&'a secret::Type, FieldError> {
    if s.name.is_empty() {
        return Err(FieldError::new(path.field("name"), "must not be empty"));
    }
    let Some(kind) = &s.r#type else {
        return Err(FieldError::new(path.clone(), "has no secret"));
    };
    match kind {
        secret::Type::TlsCertificate(t) => {
            let context = CommonTlsContext {
                tls_certificates: vec![t.clone()],
                ..CommonTlsContext::default()
            };
            common::compile(&context, Side::Client, &FieldPath::root())
                .map_err(|e| rebase(e, "tls_certificates[0]", path, "tls_certificate"))?;
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
    Ok(kind)
}

/// Replaces, in `cluster` (found at `path`), the references to static secrets of its
/// `UpstreamTlsContext` by the secrets themselves. References with an `sds_config` stay, for
/// the cluster to wait for when it is applied.
pub fn inline_static_secrets(
    cluster: &mut Cluster,
    secrets: &StaticSecrets,
    path: &FieldPath,
) -> Result<(), FieldError> {
    inline_in_socket::<UpstreamTlsContext>(
        cluster.transport_socket.as_mut(),
        |context| context.common_tls_context.as_mut(),
        secrets,
        path,
    )
}

/// Inlines the static secrets into the `T` (Upstream- or `DownstreamTlsContext`) of `socket`,
/// found at `path.transport_socket`; any other socket is left as it is, and malformed bytes
/// for compilation to report.
pub(super) fn inline_in_socket<T: Message + Name + Default>(
    socket: Option<&mut envoy_types::pb::envoy::config::core::v3::TransportSocket>,
    common_of: impl FnOnce(&mut T) -> Option<&mut CommonTlsContext>,
    secrets: &StaticSecrets,
    path: &FieldPath,
) -> Result<(), FieldError> {
    let Some(envoy_types::pb::envoy::config::core::v3::transport_socket::ConfigType::TypedConfig(
        any,
    )) = socket.and_then(|socket| socket.config_type.as_mut())
    else {
        return Ok(());
    };
    if any.type_url != T::type_url() {
        return Ok(());
    }
    let Ok(mut context) = T::decode(any.value.as_slice()) else {
        return Ok(());
    };
    let Some(common) = common_of(&mut context) else {
        return Ok(());
    };
    let path = path
        .field("transport_socket")
        .field("typed_config")
        .field("common_tls_context");
    inline_common(common, secrets, &path)?;
    *any = Any {
        type_url: T::type_url(),
        value: context.encode_to_vec(),
    };
    Ok(())
}

/// Replaces, in `c` (found at `path`), the references to static secrets by the secrets; the
/// references with an `sds_config` stay.
fn inline_common(
    c: &mut CommonTlsContext,
    secrets: &StaticSecrets,
    path: &FieldPath,
) -> Result<(), FieldError> {
    let (resolved, _) = resolve_refs(c, path, &|r, path| {
        if r.sds_config.is_some() {
            return Ok(Found::Keep);
        }
        secrets
            .lookup(&r.name, path)
            .map(|kind| Found::Secret(kind, "static secret"))
    })?;
    *c = resolved;
    Ok(())
}

// === impl StaticSecrets ===

impl StaticSecrets {
    /// The secret `name`, for a reference at `path`.
    pub(super) fn lookup(&self, name: &str, path: &FieldPath) -> Result<&secret::Type, FieldError> {
        self.by_name.get(name).ok_or_else(|| {
            FieldError::new(
                path.field("name"),
                format!("no secret {name:?} in static_resources.secrets"),
            )
        })
    }
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
