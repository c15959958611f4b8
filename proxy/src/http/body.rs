//! The bodies the connection manager passes around: one boxed type for requests and responses,
//! and one wrapper, [`Watched`], that reports each frame and the end of a body to a [`Watch`]:
//! a byte counter for requests, a guard held until a response ends, the response's report
//! (metrics and access log), and the request body's copies to its shadows.

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

/// Told what passes through a [`Watched`] body: each frame, then how the body ended, once.
pub trait Watch<E> {
    /// A frame was read.
    fn frame(&mut self, _frame: &Frame<Bytes>) {}

    /// The body ended.
    fn end(&mut self, _end: End<'_, E>) {}
}

/// How a [`Watched`] body ended.
#[derive(Debug)]
pub enum End<'a, E> {
    /// Its last frame was read, or it was dropped with nothing left to read: a body whose last
    /// frame said it was the end, or one empty from the start, may never be polled again.
    Complete,
    /// It failed with this error.
    Failed(&'a E),
    /// It was dropped before its end.
    Dropped,
}

/// `inner`, unchanged, reporting to a [`Watch`].
pub struct Watched<B: Body, W: Watch<B::Error>> {
    inner: B,
    watch: W,
    ended: bool,
}

/// Counts the data bytes that pass through a body into a shared counter.
pub type Counted<B> = Watched<B, CountData>;

/// The [`Watch`] of [`Counted`].
#[derive(Debug)]
pub struct CountData(Arc<AtomicU64>);

/// Keeps a guard (an endpoint's in-flight count, say) alive until the body is dropped.
pub type Guarded<G> = Watched<ProxyBody, Hold<G>>;

/// The [`Watch`] of [`Guarded`]: holds its guard, nothing more.
#[derive(Debug)]
pub struct Hold<G> {
    _guard: G,
}

/// The response body sent downstream: counts the bytes, notes a `grpc-status` trailer, and
/// reports the request at the end of the body, or when the client goes away first (flag `DC`).
pub type Logged = Watched<ProxyBody, Report>;

/// The [`Watch`] of [`Logged`].
#[derive(Debug)]
pub struct Report {
    sent: u64,
    grpc_status: Option<u32>,
    pending: Option<Box<PendingLog>>,
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

// === impl Watched ===

impl<B: Body, W: Watch<B::Error>> Watched<B, W> {
    /// Wraps `inner`, reporting to `watch`.
    pub fn with(inner: B, watch: W) -> Self {
        Self {
            inner,
            watch,
            ended: false,
        }
    }

    fn end(&mut self, end: End<'_, B::Error>) {
        if !self.ended {
            self.ended = true;
            self.watch.end(end);
        }
    }
}

impl<B, W> Body for Watched<B, W>
where
    B: Body<Data = Bytes> + Unpin,
    W: Watch<B::Error> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                this.watch.frame(frame);
                if this.inner.is_end_stream() {
                    this.end(End::Complete);
                }
            }
            Poll::Ready(None) => this.end(End::Complete),
            Poll::Ready(Some(Err(error))) => this.end(End::Failed(error)),
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

impl<B: Body, W: Watch<B::Error>> Drop for Watched<B, W> {
    fn drop(&mut self) {
        let end = if self.inner.is_end_stream() {
            End::Complete
        } else {
            End::Dropped
        };
        self.end(end);
    }
}

// === impl CountData ===

impl<B: Body> Counted<B> {
    /// Wraps `inner`, adding to `count`.
    pub fn new(inner: B, count: Arc<AtomicU64>) -> Self {
        Self::with(inner, CountData(count))
    }
}

impl<E> Watch<E> for CountData {
    fn frame(&mut self, frame: &Frame<Bytes>) {
        if let Some(data) = frame.data_ref() {
            self.0.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
    }
}

// === impl Hold ===

impl<G> Guarded<G> {
    /// Wraps `inner`, holding `guard`.
    pub fn new(inner: ProxyBody, guard: G) -> Self {
        Self::with(inner, Hold { _guard: guard })
    }
}

impl<G, E> Watch<E> for Hold<G> {}

// === impl Report ===

impl Logged {
    /// Wraps `inner`, reporting `pending` when it ends.
    pub fn new(inner: ProxyBody, pending: PendingLog) -> Self {
        Self::with(
            inner,
            Report {
                sent: 0,
                grpc_status: None,
                pending: Some(Box::new(pending)),
            },
        )
    }
}

impl Report {
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

impl Watch<BoxError> for Report {
    fn frame(&mut self, frame: &Frame<Bytes>) {
        if let Some(data) = frame.data_ref() {
            self.sent += data.len() as u64;
        } else if let Some(trailers) = frame.trailers_ref() {
            self.grpc_status = grpc_status(trailers);
        }
    }

    fn end(&mut self, end: End<'_, BoxError>) {
        let complete = match end {
            End::Complete => true,
            End::Dropped => false,
            // A stream the proxy reset on a timer was not terminated by the client.
            End::Failed(error) => match error.downcast_ref::<StreamTimeout>() {
                Some(StreamTimeout(expiry)) => {
                    if let (Expiry::Idle, Some(pending)) = (expiry, self.pending.as_mut()) {
                        pending.flags.insert(ResponseFlag::StreamIdleTimeout);
                    }
                    true
                }
                None => false,
            },
        };
        self.finish(complete);
    }
}

/// The `grpc-status` of a response's headers or trailers.
pub fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers.get("grpc-status")?.to_str().ok()?.parse().ok()
}

#[cfg(test)]
mod tests;
