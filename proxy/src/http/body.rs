//! The bodies the connection manager passes around: one boxed type for requests and responses,
//! a byte counter for requests, and the response wrapper that reports the request (metrics and
//! access log) when the response ends.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use super::stream_timer::{Expiry, StreamTimeout};
use crate::{
    response_flags::{ResponseFlag, ResponseFlags},
    stats::observe::{HttpEnd, HttpObservation},
    upstream::{BoxError, UpstreamBody},
};

/// Every request and response body in the connection manager.
pub type ProxyBody = UpstreamBody;

/// An empty body.
pub fn empty() -> ProxyBody {
    Empty::new().map_err(|never| match never {}).boxed_unsync()
}

/// A body of `bytes`.
pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A body of `data` followed by `trailers`, rebuilt for each attempt of a retried request.
pub fn replay(data: Bytes, trailers: Option<HeaderMap>) -> ProxyBody {
    let mut frames = Vec::with_capacity(2);
    if !data.is_empty() {
        frames.push(Ok::<_, BoxError>(Frame::data(data)));
    }
    if let Some(trailers) = trailers {
        frames.push(Ok(Frame::trailers(trailers)));
    }
    StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync()
}

/// Boxes any body whose errors convert to [`BoxError`].
pub fn boxed<B>(body: B) -> ProxyBody
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed_unsync()
}

/// Counts the data bytes that pass through `inner` into a shared counter.
pub struct Counted<B> {
    inner: B,
    count: Arc<AtomicU64>,
}

impl<B> Counted<B> {
    /// Wraps `inner`, adding to `count`.
    pub fn new(inner: B, count: Arc<AtomicU64>) -> Self {
        Self { inner, count }
    }
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.count.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Keeps `guard` (an endpoint's in-flight count, say) alive until the body is dropped.
pub struct Guarded<G> {
    inner: ProxyBody,
    _guard: G,
}

impl<G> Guarded<G> {
    /// Wraps `inner`, holding `guard`.
    pub fn new(inner: ProxyBody, guard: G) -> Self {
        Self {
            inner,
            _guard: guard,
        }
    }
}

impl<G: Unpin> Body for Guarded<G> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request's telemetry waiting for its response to end.
#[derive(Debug)]
pub struct PendingLog {
    /// The metrics and access log line, with everything known before the response body.
    pub observation: HttpObservation,
    /// The request's flags.
    pub flags: ResponseFlags,
    /// Request body bytes, counted as the body is forwarded.
    pub received: Arc<AtomicU64>,
    /// When the request started.
    pub started: Instant,
}

/// The response body sent downstream: counts the bytes, notes a `grpc-status` trailer, and
/// reports the request at the end of the body, or when the client goes away first (flag `DC`).
pub struct Logged {
    inner: ProxyBody,
    sent: u64,
    grpc_status: Option<u32>,
    pending: Option<Box<PendingLog>>,
}

impl Logged {
    /// Wraps `inner`, reporting `pending` when it ends.
    pub fn new(inner: ProxyBody, pending: PendingLog) -> Self {
        Self {
            inner,
            sent: 0,
            grpc_status: None,
            pending: Some(Box::new(pending)),
        }
    }

    fn finish(&mut self, complete: bool) {
        let Some(pending) = self.pending.take() else {
            return;
        };
        let PendingLog {
            observation,
            mut flags,
            received,
            started,
        } = *pending;
        if !complete {
            flags.insert(ResponseFlag::DownstreamConnectionTermination);
        }
        observation.finish(HttpEnd {
            flags,
            bytes_received: received.load(Ordering::Relaxed),
            bytes_sent: self.sent,
            duration: started.elapsed(),
            grpc_status: self.grpc_status,
        });
    }
}

impl Body for Logged {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.sent += data.len() as u64;
                } else if let Some(trailers) = frame.trailers_ref() {
                    self.grpc_status = grpc_status(trailers);
                }
                if self.inner.is_end_stream() {
                    self.finish(true);
                }
            }
            Poll::Ready(None) => self.finish(true),
            // A stream the proxy reset on a timer was not terminated by the client.
            Poll::Ready(Some(Err(error))) => match error.downcast_ref::<StreamTimeout>() {
                Some(StreamTimeout(expiry)) => {
                    if let (Expiry::Idle, Some(pending)) = (expiry, self.pending.as_mut()) {
                        pending.flags.insert(ResponseFlag::StreamIdleTimeout);
                    }
                    self.finish(true);
                }
                None => self.finish(false),
            },
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        // Bodies that were empty from the start are never polled.
        let complete = self.inner.is_end_stream();
        self.finish(complete);
    }
}

/// The `grpc-status` of a response's headers or trailers.
pub fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}
