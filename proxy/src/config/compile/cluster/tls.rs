//! A cluster's `transport_socket`: `envoy.transport_sockets.tls` with an `UpstreamTlsContext`
//! (TLS origination), or `raw_buffer` (plaintext, the default).
//!
//! Served in `UpstreamTlsContext`: `common_tls_context` (see [`crate::tls`]), `sni` (none sent
//! when empty, as in Envoy) and `max_session_keys` (sessions kept for resumption; Envoy's
//! default 1, 0 turns resumption off). `enforce_rsa_key_usage` is ignored, as Envoy ignores it
//! (rustls always enforces key usage). Refused: `allow_renegotiation` (rustls does not
//! renegotiate), `auto_host_sni` and `auto_sni_san_validation`.
//!
//! Secret references are resolved before a cluster gets here: static ones by the bootstrap
//! ([`inline_static_secrets`](crate::tls::inline_static_secrets)), those over SDS when the
//! cluster is applied (see [`resolve_common`](crate::tls::resolve_common)); a cluster still
//! waiting for a secret is not compiled for traffic.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
};

use envoy_types::pb::envoy::{
    config::cluster::v3::Cluster, extensions::transport_sockets::tls::v3::UpstreamTlsContext,
};
use mesh_common::path::FieldPath;
use prost::Message;
use rustls::pki_types::ServerName;

use super::super::common::{private_key_error, tls_context};
use crate::{
    config_error::{FieldError, reject_if},
    tls::{self, ClientConfigError, Side, UpstreamTls},
};

/// Envoy's `max_session_keys` when unset.
const DEFAULT_SESSION_KEYS: u32 = 1;

/// The cluster's TLS, if its `transport_socket` (at `root.transport_socket`) asks for it.
pub(super) fn transport_socket(
    c: &Cluster,
    root: &FieldPath,
) -> Result<Option<Arc<UpstreamTls>>, FieldError> {
    let Some((context, path)) = tls_context::<UpstreamTlsContext>(
        c.transport_socket.as_ref(),
        &root.field("transport_socket"),
    )?
    else {
        return Ok(None);
    };
    upstream_tls(&context, &path).map(|tls| Some(Arc::new(tls)))
}

fn upstream_tls(u: &UpstreamTlsContext, path: &FieldPath) -> Result<UpstreamTls, FieldError> {
    reject_if(u.allow_renegotiation, path, "allow_renegotiation")?;
    reject_if(u.auto_host_sni, path, "auto_host_sni")?;
    reject_if(u.auto_sni_san_validation, path, "auto_sni_san_validation")?;
    let sni = match u.sni.as_str() {
        "" => None,
        sni => Some(ServerName::try_from(sni.to_owned()).map_err(|e| {
            FieldError::new(
                path.field("sni"),
                format!("{sni:?} is not a server name: {e}"),
            )
        })?),
    };
    let session_keys = u
        .max_session_keys
        .as_ref()
        .map_or(DEFAULT_SESSION_KEYS, |k| k.value);
    let common_path = path.field("common_tls_context");
    let common = u.common_tls_context.clone().unwrap_or_default();
    let context = tls::compile_common(&common, Side::Client, &common_path)?;
    let mut hasher = DefaultHasher::new();
    u.encode_to_vec().hash(&mut hasher);
    context.material.hash(&mut hasher);
    UpstreamTls::new(context, sni, session_keys, hasher.finish()).map_err(|e| match e {
        ClientConfigError::Params(e) => {
            FieldError::new(common_path.field("tls_params"), e.to_string())
        }
        ClientConfigError::Key(e) => private_key_error(&common_path, &e),
    })
}
