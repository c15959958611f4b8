//! TLS from Envoy's `CommonTlsContext`, with rustls and the ring provider: certificates, keys
//! and CAs read from `DataSource`s at config time, the peer checked as the validation context
//! says, the client side of upstream connections (`UpstreamTlsContext`) and the server side of
//! filter chains (`DownstreamTlsContext`). Secrets named by a context come from the bootstrap's
//! `static_resources.secrets` or over SDS on the ADS stream (`secrets.rs`, `sds.rs`), for
//! clusters and listeners alike.

mod client;
mod common;
mod params;
mod sds;
mod secrets;
mod server;
mod source;
mod validation;
mod verify;

pub use self::server::{
    DownstreamTls, HandshakeError, ServerConfigError, ServerOptions, TlsInfo,
    inline_listener_secrets,
};
pub use self::{
    client::{Alpn, ClientConfigError, UpstreamTls},
    common::{Certificate, TlsContext, compile as compile_common},
    params::{Params, Side},
    sds::{DynamicSecret, DynamicSecrets, Resolution, referenced_secrets, resolve_common},
    secrets::{StaticSecrets, inline_static_secrets},
    source::{Loaded, certificates, load, private_key},
    validation::{SanKind, SanMatcher, Validation},
    verify::{PeerVerifier, san_matches},
};

/// The transport socket name of TLS.
pub const TLS_TRANSPORT_SOCKET: &str = "envoy.transport_sockets.tls";

#[cfg(test)]
pub(crate) mod tests;
