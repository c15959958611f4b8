//! Request mirroring: a shadow copy of a forwarded request to each sampled mirror cluster, as
//! Envoy's router sends it for `request_mirror_policies`.
//!
//! The shadow carries the request's method, path (rewritten, if the route rewrites it) and
//! headers as they leave for the main cluster (hop-by-hop headers removed, the route's header
//! edits and literal host rewrite applied), with `-shadow` appended to the host. It is
//! fire-and-forget: it runs on its own task, its response is read and discarded, its failure
//! only reaches the mirror cluster's outlier detector, and the main request never waits for it.
//!
//! The request body is streamed to the shadow as the main request reads it ([`tee`]), through
//! at most [`SHADOW_BODY_BUFFER`] bytes per shadow: a shadow that falls further behind is
//! dropped (its upstream sees the body end in an error), never the main request. When the main
//! request stops reading the body before its end (its upstream answered first), the rest, up
//! to [`SHADOW_BODY_BUFFER`] more bytes, is still read for the shadows. At most
//! [`MAX_SHADOWS`] shadows run at once per proxy; past that requests are not mirrored. A shadow
//! lives as long as the route timeout allows, or [`MAX_SHADOW_LIFETIME`] when the route has
//! none.
//!
//! Each shadow a policy samples is counted once, when it ends, in the mirror cluster's
//! `mesh_proxy_shadow_requests_total` (see `crate::stats::shadow`): sent, failed or dropped.

mod send;
mod tee;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use http::{
    HeaderMap, HeaderValue, Method, Request, Uri, Version, header::HOST, uri::PathAndQuery,
};
use http_body_util::BodyExt;
use hyper::body::Body;
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Instant,
};

use super::{
    HttpContext,
    body::{self, ProxyBody},
    headers::{self, X_FORWARDED_HOST},
};
use crate::{
    config::{Snapshot, UpstreamProtocol},
    route::{ClusterTarget, Decision, HostRewrite, MirrorPolicy, RoutePolicy},
    stats::ShadowOutcome,
    upstream::{PoolProtocol, Selected, select_endpoint},
};

/// Shadows in flight at once, per proxy.
pub const MAX_SHADOWS: usize = 256;

/// Request body bytes buffered for one shadow that reads slower than the main request.
pub const SHADOW_BODY_BUFFER: usize = 512 * 1024;

/// How long a shadow may run when its route sets no timeout.
pub const MAX_SHADOW_LIFETIME: Duration = Duration::from_secs(300);

/// Limits the shadows in flight.
#[derive(Debug)]
pub struct ShadowLimit(Arc<Semaphore>);

/// A forwarded request as its shadows copy it.
pub struct Original<'a> {
    /// The method.
    pub method: &'a Method,
    /// The host the client asked for.
    pub authority: &'a str,
    /// The path and query, rewritten if the route says so.
    pub path_and_query: &'a PathAndQuery,
    /// The client's headers.
    pub headers: &'a HeaderMap,
    /// The routing decision, for its header edits.
    pub decision: &'a Decision<'a>,
    /// The main cluster picked, for its header edits and host rewrite.
    pub cluster: &'a ClusterTarget,
    /// The route's policy: mirrors, host rewrite, timeout.
    pub policy: &'a RoutePolicy,
    /// The captured connection's original destination, for `ORIGINAL_DST` mirror clusters.
    pub original_dst: Option<SocketAddr>,
    /// Whether the client speaks HTTP/2, for `use_downstream_protocol_config`.
    pub downstream_http2: bool,
}

// === impl ShadowLimit ===

impl ShadowLimit {
    /// Room for [`MAX_SHADOWS`].
    pub fn new() -> Self {
        Self(Arc::new(Semaphore::new(MAX_SHADOWS)))
    }

    fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0).try_acquire_owned().ok()
    }
}

impl Default for ShadowLimit {
    fn default() -> Self {
        Self::new()
    }
}

/// Starts the shadows of `original` that its route's mirror policies sample, and returns the
/// body to forward to the main cluster: `body` itself, or `body` feeding the shadows too.
/// Every sampled shadow is counted once in the mirror cluster's shadow metrics.
pub fn mirror(
    ctx: &Arc<HttpContext>,
    snapshot: &Snapshot,
    original: &Original<'_>,
    body: ProxyBody,
) -> ProxyBody {
    let mirrors = &original.policy.mirrors;
    if mirrors.is_empty() {
        return body;
    }
    let empty = body.is_end_stream();
    let hint = body.size_hint();
    let lifetime = original.policy.timeout.unwrap_or(MAX_SHADOW_LIFETIME);
    let deadline = Instant::now() + lifetime;
    let mut headers = None;
    let mut taps = Vec::new();
    let mut rng = rand::rng();
    for policy in mirrors {
        if !policy.sample(&mut rng) {
            continue;
        }
        let counts = ctx.telemetry.stats.shadows(&policy.cluster);
        let Some(permit) = ctx.shadows.try_acquire() else {
            tracing::debug!(cluster = %policy.cluster, "too many shadows in flight: not mirrored");
            counts.count(ShadowOutcome::Dropped);
            continue;
        };
        let selected =
            match select_endpoint(snapshot, &policy.cluster, original.original_dst, &mut rng) {
                Ok(selected) => selected,
                Err(error) => {
                    tracing::debug!(cluster = %policy.cluster, %error, "shadow not sent");
                    counts.count(ShadowOutcome::Dropped);
                    continue;
                }
            };
        let (shadow_body, tap) = if empty {
            (body::empty(), None)
        } else {
            let (shadow_body, tap) = tee::tap(hint);
            (shadow_body, Some(tap))
        };
        let (host, prepared) = headers.get_or_insert_with(|| prepare(original));
        let (request, protocol) = request(original, policy, &selected, host, prepared, shadow_body);
        let lag = tap.as_ref().map(tee::Tap::lag);
        taps.extend(tap);
        tokio::spawn(send::send(send::Shadow {
            ctx: Arc::clone(ctx),
            selected,
            request,
            protocol,
            lifetime,
            counts,
            lag,
            permit,
        }));
    }
    if taps.is_empty() {
        body
    } else {
        tee::Tee::new(body, taps, deadline).boxed_unsync()
    }
}

/// The headers as they leave for the main cluster, and the host before its `-shadow` suffix.
fn prepare(original: &Original<'_>) -> (String, HeaderMap) {
    let mut headers = original.headers.clone();
    headers::strip_hop_by_hop(&mut headers, false);
    for edits in original.decision.request_header_edits() {
        edits.apply(&mut headers);
    }
    let literal = match (
        &original.cluster.host_rewrite,
        &original.policy.host_rewrite,
    ) {
        (Some(host), _) | (None, Some(HostRewrite::Literal(host))) => Some(host.clone()),
        // `auto_host_rewrite` names the main request's endpoint: the shadow keeps the host.
        (None, Some(HostRewrite::Auto) | None) => None,
    };
    let host = match literal {
        Some(host) => {
            if original.policy.append_x_forwarded_host
                && let Ok(value) = HeaderValue::from_str(original.authority)
            {
                headers.append(X_FORWARDED_HOST.clone(), value);
            }
            host
        }
        None => original.authority.to_owned(),
    };
    (host, headers)
}

fn request(
    original: &Original<'_>,
    policy: &MirrorPolicy,
    selected: &Selected,
    host: &str,
    headers: &HeaderMap,
    body: ProxyBody,
) -> (Request<ProxyBody>, PoolProtocol) {
    let http2 = match selected.cluster.protocol {
        UpstreamProtocol::Http1 => false,
        UpstreamProtocol::Http2 => true,
        UpstreamProtocol::UseDownstream => original.downstream_http2,
    };
    let authority = policy.shadow_host(host);
    let endpoint = selected.address.to_string();
    let uri = absolute(&authority, original.path_and_query)
        .or_else(|| absolute(&endpoint, original.path_and_query))
        .unwrap_or_default();
    let mut request = Request::new(body);
    *request.method_mut() = original.method.clone();
    *request.uri_mut() = uri;
    *request.headers_mut() = headers.clone();
    let protocol = if http2 {
        *request.version_mut() = Version::HTTP_2;
        request.headers_mut().remove(HOST);
        PoolProtocol::Http2
    } else {
        *request.version_mut() = Version::HTTP_11;
        if let Ok(value) = HeaderValue::from_str(&authority) {
            request.headers_mut().insert(HOST, value);
        }
        PoolProtocol::Http1
    };
    (request, protocol)
}

fn absolute(authority: &str, path_and_query: &PathAndQuery) -> Option<Uri> {
    Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path_and_query.clone())
        .build()
        .ok()
}
