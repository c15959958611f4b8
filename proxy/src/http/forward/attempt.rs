//! One attempt upstream, and what its failure means: the outlier detector's outcome, and
//! Envoy's response and flag.

use std::{error::Error as _, time::Duration};

use http::{Request, Response, StatusCode};
use hyper_util::client::legacy;
use tokio::time::Instant;

use crate::{
    balance::Outcome,
    http::{body::ProxyBody, local},
    response_flags::{ResponseFlag, ResponseFlags},
    upstream::{Selected, UpstreamClient, UpstreamResponseBody},
};

/// Why an attempt got no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Connecting failed or timed out (`UF`).
    Connect,
    /// The connection closed or reset before the response headers (`UC`).
    Reset,
    /// HTTP/2 refused the stream (`UC`; retried under `refused-stream`).
    Refused,
    /// The per-try timeout fired (`UT`).
    Timeout,
}

/// Reports an attempt's outcome to the endpoint's outlier detector at most once. An attempt
/// dropped before it ended was cut by the route timeout if its deadline has passed, which
/// counts as a timeout; otherwise the client went away, which says nothing of the endpoint.
pub(super) struct Report<'a>(pub(super) Option<&'a Selected>, pub(super) Option<Instant>);

impl Report<'_> {
    pub(super) fn finish(&mut self, outcome: Outcome) {
        if let Some(selected) = self.0.take() {
            selected.report(outcome);
        }
    }
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        if self.1.is_some_and(|deadline| Instant::now() >= deadline) {
            self.finish(Outcome::Timeout);
        }
    }
}

pub(super) async fn attempt(
    client: &UpstreamClient,
    request: Request<ProxyBody>,
    per_try_timeout: Option<Duration>,
) -> Result<Response<UpstreamResponseBody>, Failure> {
    let response = client.request(request);
    let result = match per_try_timeout {
        Some(limit) => tokio::time::timeout(limit, response)
            .await
            .map_err(|_| Failure::Timeout)?,
        None => response.await,
    };
    result.map_err(|error| classify(&error))
}

fn classify(error: &legacy::Error) -> Failure {
    if error.is_connect() {
        return Failure::Connect;
    }
    // The h2 error is only reachable as a source; its debug form names the reset reason.
    let mut source = error.source();
    while let Some(cause) = source {
        if format!("{cause:?}").contains("REFUSED_STREAM") {
            return Failure::Refused;
        }
        source = cause.source();
    }
    Failure::Reset
}

// === impl Failure ===

impl Failure {
    /// What the outlier detector makes of it.
    pub(super) fn outcome(self) -> Outcome {
        match self {
            Self::Connect => Outcome::ConnectFailure,
            Self::Reset | Self::Refused => Outcome::Reset,
            Self::Timeout => Outcome::Timeout,
        }
    }

    pub(super) fn respond(self, flags: &mut ResponseFlags) -> Response<ProxyBody> {
        let (status, flag, text) = match self {
            Self::Connect => (
                StatusCode::SERVICE_UNAVAILABLE,
                ResponseFlag::UpstreamConnectionFailure,
                local::CONNECTION_FAILURE,
            ),
            Self::Reset => (
                StatusCode::SERVICE_UNAVAILABLE,
                ResponseFlag::UpstreamConnectionTermination,
                local::CONNECTION_TERMINATION,
            ),
            Self::Refused => (
                StatusCode::SERVICE_UNAVAILABLE,
                ResponseFlag::UpstreamConnectionTermination,
                local::REFUSED_STREAM,
            ),
            Self::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                ResponseFlag::UpstreamRequestTimeout,
                local::REQUEST_TIMEOUT,
            ),
        };
        flags.insert(flag);
        local::respond(status, text)
    }
}
