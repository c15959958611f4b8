//! One connection from accept to hand-over: its original destination, the listener and filter
//! chain that take it, protocol detection, and the HTTP connection manager or TCP proxy that
//! serves it.

use std::{net::SocketAddr, sync::Arc};

use bytes::Bytes;
use rustls::pki_types::CertificateDer;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};

use super::{
    DataPlaneContext,
    chain::{ChainInput, needs_inspection, select_chain},
    handoff::handoff_listener,
    tls::{alpn_protocol, terminate},
};
use crate::{
    capture::OriginalDst,
    config::{FilterChain, ListenerConfig, NetworkFilter, Snapshot},
    detect::{DetectConfig, PrefixedStream, Protocol, ProtocolHint, detect_stream},
    http::{ConnectionTls, Downstream, HttpHandler},
    response_flags::ResponseFlag,
    tcp::{self, TcpDownstream},
};

/// Where a connection is headed, once the listener knows.
#[derive(Clone, Debug)]
pub(super) struct Target {
    /// The client's address.
    pub(super) peer: SocketAddr,
    /// The address the client reached: the original destination for captured connections.
    pub(super) local: SocketAddr,
    /// The destination chains match on and `ORIGINAL_DST` clusters connect to.
    pub(super) destination: SocketAddr,
}

/// The certificates of a terminated TLS connection, which its requests may report
/// (`x-forwarded-client-cert`).
struct Handshake<'a> {
    /// The URI SANs of the certificate the proxy presented.
    local_uris: &'a [String],
    /// The chain the client sent, leaf first; empty without a client certificate.
    peer_chain: Vec<CertificateDer<'static>>,
    /// The SNI the client sent.
    server_name: Option<String>,
}

/// Serves a connection accepted by the listener named `listener`, reading its configuration
/// from the snapshot current now, so a changed listener applies to new connections only.
pub(super) async fn serve_accepted(
    ctx: Arc<DataPlaneContext>,
    listener: String,
    original_dst: OriginalDst,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let _open = ctx.http.telemetry().stats.connection_opened(&listener);
    let snapshot = ctx.store.load();
    let Some(config) = snapshot.listeners.get(&listener).cloned() else {
        tracing::debug!(%listener, %peer, "listener removed before its connection was served");
        return;
    };
    let Ok(local) = stream.local_addr() else {
        return;
    };
    // Small writes of interactive protocols must not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    if !config.use_original_dst {
        // A port override moves where the listener binds, not what its chains match on.
        let mut destination = SocketAddr::new(local.ip(), config.address.port());
        if config.original_dst_filter
            && let Ok(original) = original_dst.lookup(&stream)
        {
            destination = original;
        }
        let target = Target {
            peer,
            local,
            destination,
        };
        return serve_on(&ctx, stream, target, &config, &snapshot).await;
    }
    match original_dst.lookup(&stream) {
        Ok(destination) if destination != local => {
            let target = Target {
                peer,
                local: destination,
                destination,
            };
            let config = handoff_listener(&snapshot, destination)
                .cloned()
                .unwrap_or(config);
            serve_on(&ctx, stream, target, &config, &snapshot).await;
        }
        // The client addressed the proxy itself.
        _ => serve_explicit(&ctx, stream, peer, local, &config).await,
    }
}

/// Serves `io`, a connection for `target`, with the chains of `listener`.
pub(super) async fn serve_on<I>(
    ctx: &DataPlaneContext,
    io: I,
    target: Target,
    listener: &ListenerConfig,
    snapshot: &Snapshot,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let inspect = listener.inspect_protocols || needs_inspection(listener);
    let (io, protocol) = if inspect {
        match detect(io, target.destination.port(), listener).await {
            Some((io, protocol)) => (io, Some(protocol)),
            None => return,
        }
    } else {
        (PrefixedStream::new(Bytes::new(), io), None)
    };
    let input = match &protocol {
        Some(protocol) => ChainInput::detected(target.destination, protocol),
        None => ChainInput::uninspected(target.destination),
    };
    let Some(chain) = select_chain(listener, &input) else {
        tracing::info!(
            target: "access_log",
            protocol = "tcp",
            response_flags = %ResponseFlag::NoRouteFound,
            downstream_remote_address = %target.peer,
            downstream_local_address = %target.local,
            listener = %listener.name,
            "no filter chain matched",
        );
        return;
    };
    let Some(tls) = &chain.tls else {
        return serve_chain(ctx, io, protocol, chain, target, listener, snapshot, None).await;
    };
    let Some((io, mut info)) = terminate(ctx, io, tls, listener, &target).await else {
        return;
    };
    let handshake = Handshake {
        server_name: info.server_name.take(),
        local_uris: tls.server.local_uri_sans(),
        peer_chain: io
            .get_ref()
            .1
            .peer_certificates()
            .unwrap_or_default()
            .to_vec(),
    };
    let io = PrefixedStream::new(Bytes::new(), io);
    let protocol = alpn_protocol(&info);
    serve_chain(
        ctx,
        io,
        protocol,
        chain,
        target,
        listener,
        snapshot,
        Some(handshake),
    )
    .await;
}

/// Serves `io` with `chain`'s network filter; `protocol` is what the first bytes (or ALPN)
/// said, if they were looked at, `handshake` what TLS termination established.
#[allow(clippy::too_many_arguments)]
async fn serve_chain<I>(
    ctx: &DataPlaneContext,
    io: PrefixedStream<I>,
    protocol: Option<Protocol>,
    chain: &FilterChain,
    target: Target,
    listener: &ListenerConfig,
    snapshot: &Snapshot,
    handshake: Option<Handshake<'_>>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match &chain.filter {
        NetworkFilter::Http(hcm) => {
            let (io, protocol) = match protocol {
                Some(protocol) => (io, protocol),
                // HTTP needs to know HTTP/2 prior knowledge from HTTP/1.x.
                None => {
                    match detect(io.into_parts().1, target.destination.port(), listener).await {
                        Some(detected) => detected,
                        None => return,
                    }
                }
            };
            let downstream = Downstream {
                peer: target.peer,
                local: target.local,
                original_dst: Some(target.destination),
                http2: protocol == Protocol::Http2,
                listener: listener.name.clone(),
                tls: handshake.map(|h| {
                    Arc::new(ConnectionTls::new(
                        h.local_uris,
                        &h.peer_chain,
                        &hcm.client_cert,
                    ))
                }),
            };
            let handler = HttpHandler::Chain(Arc::clone(hcm));
            serve_http(ctx, io, downstream, handler, ctx.shutdown_of(listener)).await;
        }
        NetworkFilter::Tcp(config) => {
            // Only an `sni_cluster` filter reads it; the TLS inspector's SNI, or the terminated
            // handshake's.
            let server_name = match (handshake, protocol) {
                _ if !config.sni_cluster => None,
                (Some(handshake), _) => handshake.server_name,
                (None, Some(Protocol::Tls { sni, .. })) => sni,
                (None, _) => None,
            };
            let downstream = TcpDownstream {
                peer: target.peer,
                local: target.local,
                original_dst: Some(target.destination),
                listener: listener.name.clone(),
                server_name,
            };
            tcp::proxy(io, config, snapshot, &downstream, ctx.http.telemetry()).await;
        }
    }
}

/// Explicit proxy mode on a capture listener: HTTP requests route by their target; anything
/// else has nowhere to go.
async fn serve_explicit(
    ctx: &DataPlaneContext,
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    listener: &ListenerConfig,
) {
    let Some((io, protocol)) = detect(stream, local.port(), listener).await else {
        return;
    };
    if !matches!(protocol, Protocol::Http1 | Protocol::Http2) {
        tracing::debug!(%peer, %local, listener = %listener.name, ?protocol,
            "closing a connection addressed to the proxy that is not HTTP");
        return;
    }
    let downstream = Downstream {
        peer,
        local,
        original_dst: None,
        http2: protocol == Protocol::Http2,
        listener: listener.name.clone(),
        tls: None,
    };
    let shutdown = ctx.shutdown_of(listener);
    serve_http(ctx, io, downstream, HttpHandler::Explicit, shutdown).await;
}

/// Reads the connection's first bytes with the listener's detection timeout. `None` when the
/// connection failed while being read, and is closed.
async fn detect<I>(
    io: I,
    port: u16,
    listener: &ListenerConfig,
) -> Option<(PrefixedStream<I>, Protocol)>
where
    I: AsyncRead + Unpin,
{
    let config = DetectConfig {
        timeout: listener.detection_timeout,
        ..DetectConfig::default()
    };
    match detect_stream(io, port, ProtocolHint::Auto, &config).await {
        Ok(detected) => {
            tracing::trace!(listener = %listener.name, protocol = ?detected.protocol,
                reason = ?detected.reason, "detected");
            Some((detected.stream, detected.protocol))
        }
        Err(error) => {
            tracing::debug!(listener = %listener.name, %error, "connection failed during detection");
            None
        }
    }
}

/// The one place that hands a connection to the HTTP connection manager; it finishes when
/// `shutdown` turns true (see [`DataPlaneContext::shutdown_of`]).
async fn serve_http<I>(
    ctx: &DataPlaneContext,
    io: PrefixedStream<I>,
    downstream: Downstream,
    handler: HttpHandler,
    shutdown: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    crate::http::serve_connection(io, downstream, handler, Arc::clone(&ctx.http), shutdown).await;
}
