//! Explicit proxy mode's CONNECT: the tunnel is handed to the listeners as if the connection
//! had been captured for the target.

use std::{net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header::SERVER};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::watch;

use super::{
    HttpContext,
    body::{self, ProxyBody},
    explicit::Target,
    local,
};
use crate::serve::{self, DataPlaneContext};

/// Resolves the CONNECT target, answers 200 and serves the tunnel once the client has it:
/// 400 without a `host:port` target, 503 when the target does not resolve.
pub async fn connect(
    mut request: Request<Incoming>,
    ctx: &Arc<HttpContext>,
    peer: SocketAddr,
    shutdown: &watch::Receiver<bool>,
) -> Response<ProxyBody> {
    let Some(target) = Target::of_connect(request.uri()) else {
        return local::respond(StatusCode::BAD_REQUEST, Bytes::new());
    };
    let Some(address) = target.resolve().await else {
        return local::respond(StatusCode::SERVICE_UNAVAILABLE, Bytes::new());
    };
    let upgrade = hyper::upgrade::on(&mut request);
    let tunnels = Arc::new(DataPlaneContext::new(
        Arc::clone(&ctx.store),
        Arc::clone(ctx),
        shutdown.clone(),
    ));
    spawn_tunnel(upgrade, address, peer, tunnels);
    // No content-length: a 2xx answer to CONNECT has no body and starts the tunnel.
    let mut response = Response::new(body::empty());
    response
        .headers_mut()
        .insert(SERVER, HeaderValue::from_static(local::SERVER_NAME));
    response
}

fn spawn_tunnel(
    upgrade: hyper::upgrade::OnUpgrade,
    address: SocketAddr,
    peer: SocketAddr,
    tunnels: Arc<DataPlaneContext>,
) {
    tokio::spawn(async move {
        match upgrade.await {
            Ok(io) => serve::serve_tunnel(TokioIo::new(io), address, peer, tunnels).await,
            Err(error) => tracing::debug!(%error, %peer, "CONNECT tunnel not established"),
        }
    });
}
