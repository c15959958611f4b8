//! The bootstrap's static secrets in its static listeners: each filter chain's
//! `DownstreamTlsContext` gets the secrets it names without an `sds_config` inlined, as a static
//! cluster's `UpstreamTlsContext` does (see [`inline_static_secrets`](super::super::inline_static_secrets)).

use envoy_types::pb::envoy::{
    config::listener::v3::{FilterChain, Listener},
    extensions::transport_sockets::tls::v3::DownstreamTlsContext,
};
use mesh_common::path::FieldPath;

use crate::{
    config_error::FieldError,
    tls::{StaticSecrets, secrets::inline_in_socket},
};

/// Replaces, in every filter chain of `listener` (found at `path`), the references to static
/// secrets by the secrets themselves. References with an `sds_config` stay, for the listener
/// to wait for when it is applied.
pub fn inline_listener_secrets(
    listener: &mut Listener,
    secrets: &StaticSecrets,
    path: &FieldPath,
) -> Result<(), FieldError> {
    for (i, chain) in listener.filter_chains.iter_mut().enumerate() {
        inline_chain(chain, secrets, &path.field("filter_chains").index(i))?;
    }
    if let Some(chain) = listener.default_filter_chain.as_mut() {
        inline_chain(chain, secrets, &path.field("default_filter_chain"))?;
    }
    Ok(())
}

fn inline_chain(
    chain: &mut FilterChain,
    secrets: &StaticSecrets,
    path: &FieldPath,
) -> Result<(), FieldError> {
    inline_in_socket::<DownstreamTlsContext>(
        chain.transport_socket.as_mut(),
        |context| context.common_tls_context.as_mut(),
        secrets,
        path,
    )
}
