//! One shadow on its own task: admitted by the mirror cluster's circuit breaker, sent, its
//! response read to the end and discarded, and its outcome counted and told to the cluster's
//! outlier detector.
//!
//! A pooled connection can be closed by the mirror (its idle timeout, say) an instant before
//! the shadow is written on it, too late for the pool to notice: the request then meets a
//! closed connection and no answer. A shadow has no retry policy to recover, so a shadow with
//! no body, which can be sent again as it was, gets [`STALE_RETRIES`] more attempts when its
//! connection closed before any answer; the pool has dropped that connection by then.

use std::{error::Error as _, io, sync::Arc, time::Duration};

use http::Request;
use http_body_util::BodyExt;
use hyper::body::Body as _;
use hyper_util::client::legacy;
use tokio::{sync::OwnedSemaphorePermit, time::Instant};

use super::tee::Lag;
use crate::{
    balance::Outcome,
    http::{
        HttpContext,
        body::{self, ProxyBody},
    },
    stats::{ShadowHandles, ShadowOutcome},
    upstream::{PoolProtocol, Selected},
};

/// More attempts for a bodyless shadow whose connection closed before any answer.
pub const STALE_RETRIES: u32 = 1;

/// A shadow ready to go.
pub struct Shadow {
    /// Pools and metrics.
    pub ctx: Arc<HttpContext>,
    /// The mirror cluster's endpoint.
    pub selected: Selected,
    /// The copy of the request.
    pub request: Request<ProxyBody>,
    /// The protocol spoken to the endpoint.
    pub protocol: PoolProtocol,
    /// How long the shadow may take, its wait for the circuit breaker included.
    pub lifetime: Duration,
    /// The mirror cluster's shadow counters.
    pub counts: Arc<ShadowHandles>,
    /// Whether the request body was cut off under the shadow; `None` without a body.
    pub lag: Option<Lag>,
    /// The shadow's place among those in flight.
    pub permit: OwnedSemaphorePermit,
}

/// Sends `shadow` and reads its response to the end, within its lifetime.
pub async fn send(shadow: Shadow) {
    let Shadow {
        ctx,
        selected,
        request,
        protocol,
        lifetime,
        counts,
        lag,
        permit: _permit,
    } = shadow;
    let deadline = Instant::now() + lifetime;
    let needs_connection = protocol == PoolProtocol::Http1;
    let admit = selected.cluster.breaker.admit(needs_connection);
    // A full circuit breaker drops the shadow without a word to the outlier detector.
    let _admission = match tokio::time::timeout_at(deadline, admit).await {
        Ok(Ok(admission)) => admission,
        Ok(Err(overflow)) => {
            tracing::debug!(cluster = %selected.cluster.name, %overflow, "shadow dropped");
            ctx.telemetry
                .stats
                .upstream_connections()
                .cluster(&selected.cluster.name)
                .overflowed(overflow);
            counts.count(ShadowOutcome::Dropped);
            return;
        }
        Err(_) => {
            tracing::debug!(cluster = %selected.cluster.name,
                "no connection slot within the shadow's lifetime: dropped");
            counts.count(ShadowOutcome::Dropped);
            return;
        }
    };
    let exchange = async {
        let client = ctx
            .pools
            .client(&selected.cluster, selected.address, protocol);
        let mut retries = if request.body().is_end_stream() {
            STALE_RETRIES
        } else {
            0
        };
        let (parts, body) = request.into_parts();
        let mut body = Some(body);
        let response = loop {
            let body = body.take().unwrap_or_else(body::empty);
            match client
                .request(Request::from_parts(parts.clone(), body))
                .await
            {
                Ok(response) => break response,
                Err(error) if retries > 0 && closed_unanswered(&error) => {
                    tracing::debug!(cluster = %selected.cluster.name, %error,
                        "shadow met a closed connection: sent again");
                    retries -= 1;
                }
                Err(error) => {
                    tracing::debug!(cluster = %selected.cluster.name, %error, "shadow failed");
                    return if error.is_connect() {
                        Outcome::ConnectFailure
                    } else {
                        Outcome::Reset
                    };
                }
            }
        };
        let status = response.status().as_u16();
        let mut body = response.into_body();
        // Discarded as it arrives; the deadline bounds the whole exchange.
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                break;
            }
        }
        Outcome::Status(status)
    };
    let outcome = tokio::time::timeout_at(deadline, exchange)
        .await
        .unwrap_or(Outcome::Timeout);
    selected.report(outcome);
    let counted = if lag.is_some_and(|lag| lag.fell_behind()) {
        tracing::debug!(cluster = %selected.cluster.name, "shadow cut off from its body: dropped");
        ShadowOutcome::Dropped
    } else if let Outcome::Status(_) = outcome {
        ShadowOutcome::Sent
    } else {
        if outcome == Outcome::Timeout {
            tracing::debug!(cluster = %selected.cluster.name, "shadow outlived its lifetime");
        }
        ShadowOutcome::Failed
    };
    counts.count(counted);
}

/// Whether `error` says the connection closed, or was reset, with no answer to the request:
/// not a failure to connect, which a new connection would meet again.
fn closed_unanswered(error: &legacy::Error) -> bool {
    if error.is_connect() {
        return false;
    }
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>()
            && hyper.is_incomplete_message()
        {
            return true;
        }
        if let Some(io) = cause.downcast_ref::<io::Error>()
            && matches!(
                io.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionAborted
            )
        {
            return true;
        }
        source = cause.source();
    }
    false
}
