//! When to retry, how long to wait first, and keeping the request body for another attempt.
//!
//! Retries need the request body again, so a request is only retried when its body is empty or
//! declared by `content-length` at no more than [`MAX_BUFFERED`] bytes, which is then read whole
//! before the first attempt; other bodies stream through and are never retried.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header::CONTENT_LENGTH};
use http_body_util::BodyExt;
use hyper::body::Body as _;
use rand::Rng;

use super::{
    body::{self, ProxyBody},
    forward::Failure,
};
use crate::{route::RetryPolicy, upstream::BoxError};

/// The largest request body kept in memory so that the request can be retried.
pub const MAX_BUFFERED: u64 = 64 * 1024;

/// The request body, once or for every attempt.
pub enum Replay {
    /// Streamed to the first attempt; later ones would get nothing.
    Once(Option<ProxyBody>),
    /// Read whole, with its trailers, and copied into every attempt.
    Buffered(Bytes, Option<HeaderMap>),
}

/// Envoy's `retry_on` conditions for an attempt's outcome.
pub fn should_retry(policy: &RetryPolicy, sent: Result<StatusCode, Failure>) -> bool {
    let on = |condition: &str| policy.retry_on.iter().any(|c| c == condition);
    match sent {
        Ok(status) => {
            let status = status.as_u16();
            (on("5xx") && (500..600).contains(&status))
                || (on("gateway-error") && (502..=504).contains(&status))
                || (on("retriable-4xx") && status == 409)
                || (on("retriable-status-codes") && policy.retriable_status_codes.contains(&status))
        }
        Err(failure) => {
            let any_reset = on("5xx") || on("gateway-error") || on("reset");
            match failure {
                Failure::Connect => any_reset || on("connect-failure"),
                Failure::Refused => any_reset || on("refused-stream"),
                Failure::Reset | Failure::Timeout => any_reset,
            }
        }
    }
}

/// Envoy's jittered exponential back-off: uniform below `base * 2^round`, capped.
pub fn back_off(policy: &RetryPolicy, round: u32) -> Duration {
    let ceiling = policy
        .base_interval
        .saturating_mul(1u32 << round.min(16))
        .min(policy.max_interval);
    let millis = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(rand::rng().random_range(0..millis))
}

// === impl Replay ===

impl Replay {
    /// The body as sent once, or read whole when `retrying` and small enough.
    pub async fn prepare(
        body: ProxyBody,
        headers: &HeaderMap,
        retrying: bool,
    ) -> Result<Self, BoxError> {
        if !retrying {
            return Ok(Self::Once(Some(body)));
        }
        if body.is_end_stream() {
            return Ok(Self::Buffered(Bytes::new(), None));
        }
        let length = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if length.is_none_or(|length| length > MAX_BUFFERED) {
            return Ok(Self::Once(Some(body)));
        }
        // hyper holds the body to its `content-length`, so this reads at most MAX_BUFFERED.
        let collected = body.collect().await?;
        let trailers = collected.trailers().cloned();
        Ok(Self::Buffered(collected.to_bytes(), trailers))
    }

    /// Whether every attempt can get the body.
    pub fn replayable(&self) -> bool {
        matches!(self, Self::Buffered(..))
    }

    /// The body for the next attempt.
    pub fn take(&mut self) -> ProxyBody {
        match self {
            Self::Once(body) => body.take().unwrap_or_else(body::empty),
            Self::Buffered(data, trailers) => body::replay(data.clone(), trailers.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retry_on: &[&str]) -> RetryPolicy {
        RetryPolicy {
            retry_on: retry_on.iter().map(|s| (*s).to_owned()).collect(),
            num_retries: 1,
            per_try_timeout: None,
            per_try_idle_timeout: None,
            retriable_status_codes: vec![418],
            base_interval: Duration::from_millis(25),
            max_interval: Duration::from_millis(250),
            avoid_previous_hosts: false,
            host_selection_retry_max_attempts: 0,
        }
    }

    fn status(code: u16) -> Result<StatusCode, Failure> {
        Ok(StatusCode::from_u16(code).unwrap())
    }

    #[test]
    fn retry_on_conditions_match_envoys() {
        let cases: [(&[&str], Result<StatusCode, Failure>, bool); 14] = [
            (&["5xx"], status(500), true),
            (&["5xx"], status(404), false),
            (&["5xx"], Err(Failure::Timeout), true),
            (&["gateway-error"], status(500), false),
            (&["gateway-error"], status(503), true),
            (&["gateway-error"], Err(Failure::Connect), true),
            (&["connect-failure"], Err(Failure::Connect), true),
            (&["connect-failure"], Err(Failure::Reset), false),
            (&["connect-failure"], status(503), false),
            (&["refused-stream"], Err(Failure::Refused), true),
            (&["reset"], Err(Failure::Reset), true),
            (&["retriable-4xx"], status(409), true),
            (&["retriable-status-codes"], status(418), true),
            (&["retriable-status-codes"], status(503), false),
        ];
        for (retry_on, sent, expected) in cases {
            assert_eq!(
                should_retry(&policy(retry_on), sent),
                expected,
                "{retry_on:?} {sent:?}"
            );
        }
    }

    #[test]
    fn back_off_grows_and_is_capped() {
        let policy = policy(&["5xx"]);
        for _ in 0..100 {
            assert!(back_off(&policy, 0) < Duration::from_millis(25));
            assert!(back_off(&policy, 1) < Duration::from_millis(50));
            assert!(back_off(&policy, 30) < Duration::from_millis(250));
        }
    }
}
