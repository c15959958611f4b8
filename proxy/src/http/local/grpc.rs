//! Local replies to gRPC requests, as Envoy sends them (`Http::Utility::sendLocalReply`).
//!
//! When the request is gRPC (`content-type` exactly `application/grpc`, or
//! `application/grpc+<codec>`: Envoy's `Grpc::Common::isGrpcRequestHeaders`), every local reply
//! (no route, no healthy upstream, timeouts, fault aborts, redirects, direct responses) becomes a
//! trailers-only gRPC response: HTTP 200, `content-type: application/grpc`, `grpc-status` (the
//! reply's own, a fault's `grpc_status`, or else mapped from the HTTP status), and the body text,
//! percent-encoded, as `grpc-message`; no body and no `content-length`. Other headers the reply
//! carries (`server`, `location`, the route's response header edits) stay.

use std::{
    fmt::Write,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode,
    header::{CONTENT_LENGTH, CONTENT_TYPE},
};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};

use super::LocalReply;
use crate::{http::body::ProxyBody, upstream::BoxError};

const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");
const GRPC_MESSAGE: HeaderName = HeaderName::from_static("grpc-message");
const GRPC_CONTENT_TYPE: &str = "application/grpc";

/// What a local reply must suit: read from the request before it is routed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplyTo {
    /// The request is gRPC.
    pub grpc: bool,
    /// The request is `HEAD`: a gRPC reply then carries no `grpc-message`, as in Envoy.
    pub head: bool,
}

/// An empty body that does not announce its length, so that no `content-length: 0` is added to
/// the trailers-only response; it still ends the stream with the headers.
struct TrailersOnly;

// === impl ReplyTo ===

impl ReplyTo {
    /// What replies to a request with `method` and `headers` must suit.
    pub fn of(method: &Method, headers: &HeaderMap) -> Self {
        let grpc = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|t| t.strip_prefix(GRPC_CONTENT_TYPE))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('+'));
        Self {
            grpc,
            head: method == Method::HEAD,
        }
    }
}

/// The response as the client gets it: a local reply to a gRPC request becomes trailers-only
/// gRPC; anything else is unchanged.
pub fn finish(mut response: Response<ProxyBody>, to: ReplyTo) -> Response<ProxyBody> {
    let Some(reply) = response.extensions_mut().remove::<LocalReply>() else {
        return response;
    };
    if !to.grpc {
        return response;
    }
    let grpc_status = reply
        .grpc_status
        .unwrap_or_else(|| http_to_grpc_status(response.status()));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(GRPC_CONTENT_TYPE));
    // A `grpc-status` set by the route's header edits wins, as in Envoy.
    headers
        .entry(GRPC_STATUS)
        .or_insert_with(|| HeaderValue::from(grpc_status));
    if !reply.message.is_empty() && !to.head {
        // Percent-encoding leaves only visible ASCII and spaces: always a valid value.
        if let Ok(message) = HeaderValue::from_str(&percent_encode(&reply.message)) {
            headers.insert(GRPC_MESSAGE, message);
        }
    }
    headers.remove(CONTENT_LENGTH);
    *response.body_mut() = TrailersOnly.boxed_unsync();
    response
}

/// Envoy's `Grpc::Utility::httpToGrpcStatus`, after gRPC's HTTP-to-gRPC status mapping.
pub fn http_to_grpc_status(status: StatusCode) -> u32 {
    match status.as_u16() {
        400 => 13,                   // INTERNAL
        401 => 16,                   // UNAUTHENTICATED
        403 => 7,                    // PERMISSION_DENIED
        404 => 12,                   // UNIMPLEMENTED
        429 | 502 | 503 | 504 => 14, // UNAVAILABLE
        _ => 2,                      // UNKNOWN
    }
}

/// `grpc-message` encoding as Envoy writes it (`PercentEncoding::encode`): bytes below space, from
/// `~` up, and `%` become `%XX`.
fn percent_encode(text: &[u8]) -> String {
    let mut encoded = String::with_capacity(text.len());
    for &byte in text {
        if !(b' '..b'~').contains(&byte) || byte == b'%' {
            let _ = write!(encoded, "%{byte:02X}");
        } else {
            encoded.push(char::from(byte));
        }
    }
    encoded
}

// === impl TrailersOnly ===

impl Body for TrailersOnly {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        true
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests;
