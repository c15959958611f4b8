//! Forwarding a routed request upstream: endpoint selection, the upstream request, retries and
//! timeouts, and Envoy's responses when it fails.
//!
//! The route timeout covers every attempt up to the response headers; a streaming response body
//! is not cut by it. Which requests can be retried, and when, is in [`retry`](super::retry).

mod attempt;
mod request;
mod respond;

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode, uri::PathAndQuery};
use hyper::upgrade::OnUpgrade;
use tokio::time::Instant;

pub use self::attempt::Failure;
use self::{
    attempt::{Report, attempt},
    request::Send,
};
use super::{
    HttpContext,
    body::{self, ProxyBody},
    explicit::Target,
    headers::{self, X_FORWARDED_HOST},
    local,
    retry::{Replay, back_off, should_retry},
};
use crate::{
    balance::Outcome,
    config::{Discovery, Snapshot, UpstreamProtocol},
    response_flags::{ResponseFlag, ResponseFlags},
    route::{
        ClusterTarget, ConnectionAddrs, Decision, HashInput, HostRewrite, RequestHash, RetryPolicy,
        RoutePolicy,
    },
    upstream::{
        Overflow, PoolProtocol, RetryPermit, Selected, UpstreamError, select_hashed_endpoint,
    },
};

/// Bounds the re-picks that avoid previously tried hosts.
const MAX_HOST_REPICKS: u32 = 16;

/// A routed request on its way upstream.
pub struct Forward<'a> {
    /// Pools and access log.
    pub ctx: &'a HttpContext,
    /// The snapshot the request was routed with; endpoints come from the same one.
    pub snapshot: &'a Snapshot,
    /// The routing decision, for its header edits.
    pub decision: &'a Decision<'a>,
    /// The cluster picked (from a weighted split, if any).
    pub cluster: &'a ClusterTarget,
    /// Timeouts, rewrites and retries.
    pub policy: &'a RoutePolicy,
    /// Whether the client speaks HTTP/2, for `use_downstream_protocol_config`.
    pub downstream_http2: bool,
    /// The captured connection's original destination.
    pub original_dst: Option<SocketAddr>,
    /// The target of an explicit-proxy request, resolved for `ORIGINAL_DST` clusters.
    pub explicit: Option<&'a Target>,
    /// The downstream connection, for `hash_policy` (`source_ip`, generated cookies).
    pub connection: Option<ConnectionAddrs>,
}

/// The request to send, already routed and rewritten.
pub struct Outgoing {
    /// The request method.
    pub method: Method,
    /// The authority the client asked for (host rewrites apply later).
    pub authority: String,
    /// The path and query, rewritten if the route says so.
    pub path_and_query: PathAndQuery,
    /// The client's headers; hop-by-hop ones are removed later.
    pub headers: HeaderMap,
    /// The request body, counted as it is read.
    pub body: ProxyBody,
    /// The client's side of an upgrade the route allows.
    pub upgrade: Option<OnUpgrade>,
}

/// What forwarding learned, for the access log.
#[derive(Debug, Default)]
pub struct Record {
    /// Envoy's response flags.
    pub flags: ResponseFlags,
    /// The endpoint of the last attempt.
    pub upstream_host: Option<SocketAddr>,
    /// The cluster, when it exists.
    pub upstream_cluster: Option<String>,
}

// === impl Forward ===

impl Forward<'_> {
    /// Sends `out` upstream under the route's policy; every failure becomes Envoy's response.
    pub async fn run(&self, mut out: Outgoing, record: &mut Record) -> Response<ProxyBody> {
        let Some(config) = self.snapshot.clusters.get(&self.cluster.name) else {
            record.flags.insert(ResponseFlag::NoClusterFound);
            return local::respond(self.policy.cluster_not_found, Bytes::new());
        };
        record.upstream_cluster = Some(config.name.clone());
        let http2 = match config.protocol {
            UpstreamProtocol::Http1 => false,
            UpstreamProtocol::Http2 => true,
            UpstreamProtocol::UseDownstream => self.downstream_http2,
        };
        // Upgrades only exist in HTTP/1.1.
        let protocol = if http2 && out.upgrade.is_none() {
            PoolProtocol::Http2
        } else {
            PoolProtocol::Http1
        };
        // The client's request as it came, before any edit, is what the hash policy reads.
        let RequestHash { hash, set_cookies } = self.policy.hash_policy.hash(&HashInput {
            method: &out.method,
            authority: &out.authority,
            path_and_query: out.path_and_query.as_str(),
            headers: &out.headers,
            connection: self.connection,
        });
        headers::strip_hop_by_hop(&mut out.headers, out.upgrade.is_some());
        for edits in self.decision.request_header_edits() {
            edits.apply(&mut out.headers);
        }
        let rewrite = match (&self.cluster.host_rewrite, &self.policy.host_rewrite) {
            (Some(host), _) => Some(HostRewrite::Literal(host.clone())),
            (None, rewrite) => rewrite.clone(),
        };
        if rewrite.is_some()
            && self.policy.append_x_forwarded_host
            && let Ok(value) = HeaderValue::from_str(&out.authority)
        {
            out.headers.append(X_FORWARDED_HOST.clone(), value);
        }
        let auto_host = match rewrite {
            Some(HostRewrite::Literal(host)) => {
                out.authority = host;
                false
            }
            Some(HostRewrite::Auto) => true,
            None => false,
        };
        let original_dst = match (self.original_dst, self.explicit) {
            (None, Some(target)) if matches!(config.discovery, Discovery::OriginalDst) => {
                target.resolve().await
            }
            (dst, _) => dst,
        };
        let retrying = self.policy.retry.is_some();
        let body = std::mem::replace(&mut out.body, body::empty());
        let replay = match Replay::prepare(body, &out.headers, retrying).await {
            Ok(replay) => replay,
            Err(_) => {
                record
                    .flags
                    .insert(ResponseFlag::DownstreamConnectionTermination);
                return local::respond(StatusCode::BAD_REQUEST, Bytes::new());
            }
        };
        let send = Send {
            out,
            replay,
            protocol,
            auto_host,
            original_dst,
            hash,
            set_cookies,
            deadline: self.policy.timeout.map(|limit| Instant::now() + limit),
        };
        let attempts = self.attempts(send, record);
        let result = match self.policy.timeout {
            Some(limit) => tokio::time::timeout(limit, attempts).await.ok(),
            None => Some(attempts.await),
        };
        result.unwrap_or_else(|| {
            record.flags.insert(ResponseFlag::UpstreamRequestTimeout);
            local::respond(StatusCode::GATEWAY_TIMEOUT, local::REQUEST_TIMEOUT)
        })
    }

    async fn attempts(&self, mut send: Send, record: &mut Record) -> Response<ProxyBody> {
        let retry = self
            .policy
            .retry
            .as_ref()
            .filter(|_| send.replay.replayable());
        let mut retries_left = retry.map_or(0, |r| r.num_retries);
        let mut tried = Vec::new();
        let mut round = 0u32;
        let mut _retry_permit: Option<RetryPermit> = None;
        loop {
            let selected = match self.pick(send.original_dst, send.hash, &tried, retry) {
                Ok(selected) => selected,
                Err(error) => {
                    record.flags.insert(error.response_flag());
                    return match error {
                        UpstreamError::NoCluster(_) => {
                            local::respond(self.policy.cluster_not_found, Bytes::new())
                        }
                        UpstreamError::NoHealthyUpstream(_)
                        | UpstreamError::NoOriginalDestination(_) => local::respond(
                            StatusCode::SERVICE_UNAVAILABLE,
                            local::NO_HEALTHY_UPSTREAM,
                        ),
                    };
                }
            };
            record.upstream_host = Some(selected.address);
            tried.push(selected.address);
            let needs_connection = send.protocol == PoolProtocol::Http1;
            let admission = match selected.cluster.breaker.admit(needs_connection).await {
                Ok(admission) => admission,
                Err(overflow) => {
                    self.overflowed(&selected, overflow);
                    record.flags.insert(ResponseFlag::UpstreamOverflow);
                    return local::respond(StatusCode::SERVICE_UNAVAILABLE, local::OVERFLOW);
                }
            };
            let request = send.request(&selected);
            let client = self
                .ctx
                .pools
                .client(&selected.cluster, selected.address, send.protocol);
            // Reported when the attempt ends; the route timeout cancels it as a timeout.
            let mut report = Report(Some(&selected), send.deadline);
            let sent = attempt(&client, request, retry.and_then(|r| r.per_try_timeout)).await;
            let outcome = sent.as_ref().map(Response::status).map_err(|f| *f);
            report.finish(match outcome {
                Ok(status) => Outcome::Status(status.as_u16()),
                Err(failure) => failure.outcome(),
            });
            drop(report);
            let retriable = retry.is_some_and(|policy| should_retry(policy, outcome));
            if let Some(policy) = retry.filter(|_| retriable && retries_left > 0) {
                // Held until the retry's attempt is done, so that concurrent retries count.
                // This request's previous retry is over: it does not count against the next.
                _retry_permit = None;
                _retry_permit = selected.cluster.breaker.retry();
                if _retry_permit.is_some() {
                    retries_left -= 1;
                    drop((sent, admission));
                    tokio::time::sleep(back_off(policy, round)).await;
                    round += 1;
                    continue;
                }
                // Too many retries in flight for the cluster: this response stands (`UO`).
                self.overflowed(&selected, Overflow::MaxRetries);
                record.flags.insert(ResponseFlag::UpstreamOverflow);
            } else if retriable {
                record
                    .flags
                    .insert(ResponseFlag::UpstreamRetryLimitExceeded);
            }
            return match sent {
                Ok(response) => self.respond(
                    response,
                    selected,
                    admission,
                    send.out.upgrade.take(),
                    &send.set_cookies,
                ),
                Err(failure) => failure.respond(&mut record.flags),
            };
        }
    }

    /// Counts what the cluster's circuit breaker turned away, for the metrics.
    fn overflowed(&self, selected: &Selected, overflow: Overflow) {
        self.ctx
            .telemetry()
            .stats
            .upstream_connections()
            .cluster(&selected.cluster.name)
            .overflowed(overflow);
    }

    /// Picks an endpoint; with the `previous_hosts` predicate, re-picks a few times to avoid
    /// the hosts already tried.
    fn pick(
        &self,
        original_dst: Option<SocketAddr>,
        hash: Option<u64>,
        tried: &[SocketAddr],
        retry: Option<&RetryPolicy>,
    ) -> Result<Selected, UpstreamError> {
        let mut rng = rand::rng();
        let cluster = &self.cluster.name;
        let mut selected =
            select_hashed_endpoint(self.snapshot, cluster, original_dst, hash, &mut rng)?;
        let repicks = retry.filter(|r| r.avoid_previous_hosts).map_or(0, |r| {
            r.host_selection_retry_max_attempts
                .clamp(1, MAX_HOST_REPICKS)
        });
        for _ in 0..repicks {
            if !tried.contains(&selected.address) {
                break;
            }
            selected =
                select_hashed_endpoint(self.snapshot, cluster, original_dst, hash, &mut rng)?;
        }
        Ok(selected)
    }
}
