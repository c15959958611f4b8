//! TLS termination on a filter chain with a `DownstreamTlsContext`: the handshake, after the
//! chain was chosen (so the `tls_inspector`'s SNI and ALPN picked it), bounded by the chain's
//! `transport_socket_connect_timeout`. A failed handshake closes the connection, counted in
//! `mesh_proxy_downstream_tls_handshake_failures_total` and logged at debug, as Envoy does.

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;

use super::{DataPlaneContext, dispatch::Target};
use crate::{
    config::{ChainTls, ListenerConfig},
    detect::Protocol,
    tls::{HandshakeError, TlsInfo},
};

/// The decrypted stream of `io` and what its handshake established; `None` when the handshake
/// failed and the connection is to be closed.
pub(super) async fn terminate<I>(
    ctx: &DataPlaneContext,
    io: I,
    tls: &ChainTls,
    listener: &ListenerConfig,
    target: &Target,
) -> Option<(TlsStream<I>, TlsInfo)>
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let handshake = tls.server.accept(io);
    let result = match tls.handshake_timeout {
        None => handshake.await,
        Some(limit) => tokio::time::timeout(limit, handshake)
            .await
            .unwrap_or(Err(HandshakeError::Timeout)),
    };
    match result {
        Ok((stream, info)) => {
            tracing::debug!(listener = %listener.name, peer = %target.peer,
                sni = ?info.server_name, alpn = ?info.alpn.as_deref().map(String::from_utf8_lossy),
                peer_identity = ?info.peer_uris.first(), "TLS handshake done");
            Some((stream, info))
        }
        Err(error) => {
            ctx.http
                .telemetry()
                .stats
                .downstream_tls_handshake_failed(&listener.name);
            tracing::debug!(listener = %listener.name, peer = %target.peer, %error,
                "TLS handshake failed; closing the connection");
            None
        }
    }
}

/// The HTTP version ALPN agreed on, as protocol detection would report it: `h2` is HTTP/2,
/// `http/1.1` HTTP/1.1; without either, the HTTP connection manager looks at the first bytes
/// (codec `AUTO`).
pub(super) fn alpn_protocol(info: &TlsInfo) -> Option<Protocol> {
    match info.alpn.as_deref() {
        Some(b"h2") => Some(Protocol::Http2),
        Some(b"http/1.1") => Some(Protocol::Http1),
        _ => None,
    }
}
