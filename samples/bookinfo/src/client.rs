//! Calls to upstream services: one GET per connection, a deadline per attempt, the tracing
//! headers passed along, and the mesh's explicit-proxy mode.
//!
//! A connection per request keeps the client trivial; the sample's traffic is a handful of
//! requests per page, and under a mesh the local proxy pools the real upstream connections.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use thiserror::Error;
use tokio::net::TcpStream;

use crate::config::Authority;

/// The largest upstream body read; bookinfo's answers are a few hundred bytes.
const MAX_BODY: usize = 1 << 20;

/// The header carrying the logged-in user, which Istio's routing rules match on.
pub const END_USER: HeaderName = HeaderName::from_static("end-user");

/// The trace context headers Istio's sample propagates, so a mesh can stitch spans together.
pub const TRACING_HEADERS: [&str; 16] = [
    "x-request-id",
    "traceparent",
    "tracestate",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "sw8",
];

/// Sends upstream requests, directly or through an explicit HTTP proxy.
#[derive(Clone, Debug, Default)]
pub struct Client {
    proxy: Option<Authority>,
}

/// An upstream answer with status 200 and a JSON body.
pub type JsonResult = Result<serde_json::Value, CallError>;

/// Why an upstream call gave no usable answer.
#[derive(Debug, Error)]
pub enum CallError {
    /// No TCP connection.
    #[error("connecting to {addr}: {source}")]
    Connect {
        /// Where we tried to connect (the upstream or the proxy).
        addr: String,
        /// The socket error.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP exchange failed: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built (a path that is not a valid URI).
    #[error("invalid request: {0}")]
    Request(#[from] http::Error),
    /// The body was unreadable or too large.
    #[error("reading the response body: {0}")]
    Body(String),
    /// No complete answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// An answer, but not 200.
    #[error("upstream answered {0}")]
    Status(StatusCode),
    /// A 200 whose body is not JSON.
    #[error("upstream body is not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

// === impl Client ===

impl Client {
    /// A client that sends every request to `proxy` in absolute form, if set.
    pub fn new(proxy: Option<Authority>) -> Self {
        Self { proxy }
    }

    /// GETs `path` from `upstream` and parses a 200 answer as JSON, all within `timeout`.
    pub async fn get_json(
        &self,
        upstream: &Authority,
        path: &str,
        headers: &HeaderMap,
        timeout: Duration,
    ) -> JsonResult {
        let (status, body) = tokio::time::timeout(timeout, self.get(upstream, path, headers))
            .await
            .map_err(|_| CallError::Timeout(timeout))??;
        if status != StatusCode::OK {
            return Err(CallError::Status(status));
        }
        Ok(serde_json::from_slice(&body)?)
    }

    async fn get(
        &self,
        upstream: &Authority,
        path: &str,
        headers: &HeaderMap,
    ) -> Result<(StatusCode, Bytes), CallError> {
        // Through a proxy the request line names the upstream (`GET http://details:9080/…`),
        // as HTTP/1.1 requires for proxies; directly it is the path alone.
        let (connect_to, uri) = match &self.proxy {
            Some(proxy) => (proxy, format!("http://{upstream}{path}")),
            None => (upstream, path.to_string()),
        };
        let stream = TcpStream::connect(connect_to.as_str())
            .await
            .map_err(|source| CallError::Connect {
                addr: connect_to.to_string(),
                source,
            })?;
        let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            if let Err(error) = conn.await {
                tracing::debug!(%error, "upstream connection closed with an error");
            }
        });
        let mut request = Request::get(uri).body(Empty::<Bytes>::new())?;
        *request.headers_mut() = headers.clone();
        let host = HeaderValue::from_str(upstream.as_str()).map_err(http::Error::from)?;
        request.headers_mut().insert(header::HOST, host);
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| CallError::Body(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    }
}

/// The headers to send upstream: the incoming request's tracing headers, and `end-user` if
/// given. The caller decides where `end-user` comes from: productpage from its own session
/// (never from the client, who could claim any name), reviews from productpage's request.
pub fn propagated_headers(incoming: &HeaderMap, end_user: Option<HeaderValue>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for name in TRACING_HEADERS {
        for value in incoming.get_all(name) {
            headers.append(HeaderName::from_static(name), value.clone());
        }
    }
    if let Some(user) = end_user {
        headers.insert(END_USER, user);
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tracing_headers_and_the_given_end_user_are_propagated() {
        let mut incoming = HeaderMap::new();
        incoming.insert("x-request-id", HeaderValue::from_static("req-1"));
        incoming.insert("traceparent", HeaderValue::from_static("00-abc-def-01"));
        incoming.insert("cookie", HeaderValue::from_static("session=jason"));
        incoming.insert("end-user", HeaderValue::from_static("mallory"));
        let headers = propagated_headers(&incoming, Some(HeaderValue::from_static("jason")));
        let mut names: Vec<_> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.to_str().unwrap()))
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                ("end-user", "jason"),
                ("traceparent", "00-abc-def-01"),
                ("x-request-id", "req-1"),
            ]
        );
    }

    #[test]
    fn an_incoming_end_user_is_not_propagated_unless_given() {
        let mut incoming = HeaderMap::new();
        incoming.insert("end-user", HeaderValue::from_static("mallory"));
        let headers = propagated_headers(&incoming, None);
        assert!(headers.is_empty(), "{headers:?}");
    }
}
