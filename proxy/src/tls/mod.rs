//! TLS from Envoy's `CommonTlsContext`, with rustls and the ring provider: certificates, keys
//! and CAs read from `DataSource`s at config time, the peer checked as the validation context
//! says, and the client side of upstream connections (`UpstreamTlsContext`). The loading and
//! validation parts are side-neutral so that downstream contexts can reuse them.

mod client;
mod common;
mod params;
mod secrets;
mod source;
mod validation;
mod verify;

pub use self::{
    client::{Alpn, ClientConfigError, UpstreamTls},
    common::{Certificate, TlsContext, compile as compile_common},
    params::{Params, Side},
    secrets::{StaticSecrets, inline_static_secrets},
    source::{Loaded, certificates, load, private_key},
    validation::{SanKind, SanMatcher, Validation},
    verify::{PeerVerifier, san_matches},
};

/// The transport socket name of TLS.
pub const TLS_TRANSPORT_SOCKET: &str = "envoy.transport_sockets.tls";

#[cfg(test)]
mod tests;
