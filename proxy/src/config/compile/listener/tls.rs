//! A filter chain's `transport_socket`: `envoy.transport_sockets.tls` with a
//! `DownstreamTlsContext` (TLS termination), or `raw_buffer` (plaintext, the default).
//!
//! Served in `DownstreamTlsContext`: `common_tls_context` (see [`crate::tls`]; exactly one
//! certificate, which a server needs; `alpn_protocols` are the protocols the proxy agrees to;
//! secrets it names, static or over SDS, are resolved before this runs, when the listener is
//! applied: see `apply/sds/listener.rs`),
//! `require_client_certificate` (without a validation context any certificate is accepted, as
//! in Envoy; a validation context with SAN matchers requires a certificate anyway, as Envoy's),
//! `require_sni`, `disable_stateless_session_resumption` (session tickets, on by default with
//! keys the proxy makes and rotates), `disable_stateful_session_resumption`,
//! `prefer_client_ciphers`, `ocsp_staple_policy` `LENIENT_STAPLING` (the default: no OCSP
//! response is stapled, as certificates cannot carry one) and `full_scan_certs_on_sni_mismatch`
//! (with one certificate there is nothing to scan). Refused: `session_ticket_keys`,
//! `session_ticket_keys_sds_secret_config`, `session_timeout` and the other OCSP policies.
//! `transport_socket_connect_timeout` bounds the handshake.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::Arc,
};

use envoy_types::pb::envoy::{
    config::listener::v3::FilterChain,
    extensions::transport_sockets::tls::v3::{
        DownstreamTlsContext,
        downstream_tls_context::{OcspStaplePolicy, SessionTicketKeysType},
    },
};
use mesh_common::path::FieldPath;
use prost::Message;

use super::super::common::{private_key_error, timeout, tls_context};
use crate::{
    config::ChainTls,
    config_error::{FieldError, reject_if},
    tls::{self, DownstreamTls, ServerConfigError, ServerOptions, Side, TlsContext},
};

/// The chain's TLS, if its `transport_socket` (at `path.transport_socket`) asks for it.
pub(in crate::config::compile) fn transport_socket(
    chain: &FilterChain,
    path: &FieldPath,
) -> Result<Option<ChainTls>, FieldError> {
    let handshake_timeout = timeout(
        chain.transport_socket_connect_timeout.as_ref(),
        None,
        &path.field("transport_socket_connect_timeout"),
    )?;
    let Some((context, path)) = tls_context::<DownstreamTlsContext>(
        chain.transport_socket.as_ref(),
        &path.field("transport_socket"),
    )?
    else {
        return Ok(None);
    };
    let server = downstream_tls(&context, &path)?;
    Ok(Some(ChainTls {
        server: Arc::new(server),
        handshake_timeout,
    }))
}

/// Checks the `DownstreamTlsContext` `d` (at `path`) of a chain that waits for secrets over
/// SDS, resolved as far as they are there: everything but what is missing must compile. A
/// context without its certificate is right when the certificate is what it waits for
/// (`certificate_pending`).
pub(in crate::config::compile) fn check_waiting(
    d: &DownstreamTlsContext,
    path: &FieldPath,
    certificate_pending: bool,
) -> Result<(), FieldError> {
    let (context, options, fingerprint) = compile_parts(d, path)?;
    if context.certificate.is_none() && certificate_pending {
        return Ok(());
    }
    DownstreamTls::new(context, options, fingerprint)
        .map(drop)
        .map_err(|e| server_error(e, path))
}

fn downstream_tls(d: &DownstreamTlsContext, path: &FieldPath) -> Result<DownstreamTls, FieldError> {
    let (context, options, fingerprint) = compile_parts(d, path)?;
    DownstreamTls::new(context, options, fingerprint).map_err(|e| server_error(e, path))
}

/// The compiled common context, the options beside it, and the fingerprint of both.
fn compile_parts(
    d: &DownstreamTlsContext,
    path: &FieldPath,
) -> Result<(TlsContext, ServerOptions, u64), FieldError> {
    let policy = d.ocsp_staple_policy;
    match OcspStaplePolicy::try_from(policy) {
        Ok(OcspStaplePolicy::LenientStapling) => {}
        Ok(other) => {
            return Err(FieldError::new(
                path.field("ocsp_staple_policy"),
                format!(
                    "{} is not supported by mesh-proxy: it staples no OCSP response",
                    other.as_str_name()
                ),
            ));
        }
        Err(_) => {
            return Err(FieldError::new(
                path.field("ocsp_staple_policy"),
                format!("unknown value {policy}"),
            ));
        }
    }
    reject_if(d.session_timeout.is_some(), path, "session_timeout")?;
    let stateless_resumption = match &d.session_ticket_keys_type {
        None => true,
        Some(SessionTicketKeysType::DisableStatelessSessionResumption(disable)) => !disable,
        Some(SessionTicketKeysType::SessionTicketKeys(_)) => {
            return Err(FieldError::unsupported(path.field("session_ticket_keys")));
        }
        Some(SessionTicketKeysType::SessionTicketKeysSdsSecretConfig(_)) => {
            return Err(FieldError::unsupported(
                path.field("session_ticket_keys_sds_secret_config"),
            ));
        }
    };
    let options = ServerOptions {
        require_client_certificate: d
            .require_client_certificate
            .as_ref()
            .is_some_and(|v| v.value),
        require_sni: d.require_sni.as_ref().is_some_and(|v| v.value),
        stateless_resumption,
        stateful_resumption: !d.disable_stateful_session_resumption,
        prefer_client_ciphers: d.prefer_client_ciphers,
    };
    let common_path = path.field("common_tls_context");
    let common = d.common_tls_context.clone().unwrap_or_default();
    let context = tls::compile_common(&common, Side::Server, &common_path)?;
    let mut hasher = DefaultHasher::new();
    d.encode_to_vec().hash(&mut hasher);
    context.material.hash(&mut hasher);
    Ok((context, options, hasher.finish()))
}

fn server_error(e: ServerConfigError, path: &FieldPath) -> FieldError {
    let common_path = path.field("common_tls_context");
    match e {
        ServerConfigError::NoCertificate => FieldError::new(
            common_path.field("tls_certificates"),
            "is required: a TLS server presents a certificate",
        ),
        ServerConfigError::Params(e) => {
            FieldError::new(common_path.field("tls_params"), e.to_string())
        }
        ServerConfigError::Key(e) => private_key_error(&common_path, &e),
        ServerConfigError::Verifier(e) => FieldError::new(
            common_path.field("validation_context").field("trusted_ca"),
            format!("cannot verify client certificates: {e}"),
        ),
        ServerConfigError::Tickets(e) => FieldError::new(
            path.clone(),
            format!("cannot make session ticket keys: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests;
