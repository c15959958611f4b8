//! The bootstrap's static secrets in its static listeners: each filter chain's
//! `DownstreamTlsContext` gets the secrets it names without an `sds_config` inlined, as a static
//! cluster's `UpstreamTlsContext` does (see [`inline_static_secrets`](super::super::inline_static_secrets)).

use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::transport_socket::ConfigType,
            listener::v3::{FilterChain, Listener},
        },
        extensions::transport_sockets::tls::v3::DownstreamTlsContext,
    },
    google::protobuf::Any,
};
use mesh_common::path::FieldPath;
use prost::{Message, Name};

use crate::{
    config_error::FieldError,
    tls::{StaticSecrets, secrets::inline_common},
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
    let Some(ConfigType::TypedConfig(any)) = chain
        .transport_socket
        .as_mut()
        .and_then(|socket| socket.config_type.as_mut())
    else {
        return Ok(());
    };
    if any.type_url != DownstreamTlsContext::type_url() {
        return Ok(());
    }
    // Malformed bytes are left for compilation to report.
    let Ok(mut context) = DownstreamTlsContext::decode(any.value.as_slice()) else {
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
        type_url: DownstreamTlsContext::type_url(),
        value: context.encode_to_vec(),
    };
    Ok(())
}
