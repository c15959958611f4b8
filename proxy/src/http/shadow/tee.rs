//! The request body split between the main request and its shadows: the main request reads
//! the body as before, and each frame it reads is queued for every shadow. A shadow whose queue
//! would pass [`SHADOW_BODY_BUFFER`] bytes is cut off, so the main request never waits for a
//! shadow and a slow shadow never holds more than that.
//!
//! When the main request stops reading before the body's end (its upstream answered first, or
//! failed), the rest is read for the shadows alone on a task of its own, as Envoy's router
//! still gives its shadows the whole body: at most [`SHADOW_BODY_BUFFER`] more bytes, within
//! the shadows' lifetime, and only while a shadow still waits for it. Past either bound the
//! shadows are cut off. The main path loses nothing by it: its response is already on its way,
//! and an HTTP/1.1 connection can only take its next request once this body is read anyway.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use tokio::{sync::mpsc, time::Instant};

use super::SHADOW_BODY_BUFFER;
use crate::{
    http::body::{self, ProxyBody},
    upstream::{BoxError, UpstreamBody},
};

/// Bounds the frames read for the shadows alone, as a body of tiny frames could otherwise
/// stay under [`SHADOW_BODY_BUFFER`] for long.
const MAX_DRAINED_FRAMES: usize = 64 * 1024;

/// Why a shadow's body ended early.
#[derive(Debug, thiserror::Error)]
#[error("the mirrored request body was cut off: the shadow fell behind or the request failed")]
pub struct CutOff;

/// What a tap's two ends share.
#[derive(Debug, Default)]
struct Shared {
    /// Bytes queued and not yet read by the shadow.
    queued: AtomicUsize,
    /// Set when the main body ended normally, before the queue closes.
    complete: AtomicBool,
    /// Set when the shadow was cut off for falling [`SHADOW_BODY_BUFFER`] bytes behind, or
    /// because the rest of a body the main request left passed that bound.
    fell_behind: AtomicBool,
}

/// The main side of one shadow's queue.
#[derive(Debug)]
pub struct Tap {
    tx: mpsc::UnboundedSender<Frame<Bytes>>,
    shared: Arc<Shared>,
}

/// Tells whether a shadow's body was cut off because the shadow fell behind.
#[derive(Debug)]
pub struct Lag(Arc<Shared>);

/// The shadow's side: the frames the main request read, in order.
struct Tapped {
    rx: mpsc::UnboundedReceiver<Frame<Bytes>>,
    shared: Arc<Shared>,
    hint: SizeHint,
    done: bool,
}

/// The main request's body, copying each frame to the shadows' taps.
pub struct Tee {
    inner: ProxyBody,
    taps: Taps,
    /// When the shadows' lifetime ends: the rest of the body is not read for them past it.
    deadline: Instant,
    ended: bool,
}

/// The taps still fed.
#[derive(Debug)]
struct Taps(Vec<Tap>);

/// A shadow body, and the tap that feeds it. `hint` is the main body's size hint.
pub fn tap(hint: SizeHint) -> (ProxyBody, Tap) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared::default());
    let tapped = Tapped {
        rx,
        shared: Arc::clone(&shared),
        hint,
        done: false,
    };
    (UpstreamBody::new(tapped), Tap { tx, shared })
}

// === impl Tap ===

impl Tap {
    /// Whether this tap's shadow falls behind, to be asked once the shadow is over.
    pub fn lag(&self) -> Lag {
        Lag(Arc::clone(&self.shared))
    }

    /// Queues a copy of `frame`; false when the shadow is gone or too far behind.
    fn offer(&self, frame: &Frame<Bytes>) -> bool {
        let (copy, len) = if let Some(data) = frame.data_ref() {
            (Frame::data(data.clone()), data.len())
        } else if let Some(trailers) = frame.trailers_ref() {
            (Frame::trailers(trailers.clone()), 0)
        } else {
            return true;
        };
        let queued = self.shared.queued.fetch_add(len, Ordering::AcqRel) + len;
        if queued > SHADOW_BODY_BUFFER {
            tracing::debug!(queued, "a shadow fell behind its request body: dropped");
            self.shared.fell_behind.store(true, Ordering::Release);
            return false;
        }
        self.tx.send(copy).is_ok()
    }

    fn complete(&self) {
        self.shared.complete.store(true, Ordering::Release);
    }
}

// === impl Lag ===

impl Lag {
    /// Whether the shadow's body was cut off because it fell behind the main request.
    pub fn fell_behind(&self) -> bool {
        self.0.fell_behind.load(Ordering::Acquire)
    }
}

// === impl Tee ===

impl Tee {
    /// Wraps `inner`, feeding `taps`; the shadows live until `deadline`.
    pub fn new(inner: ProxyBody, taps: Vec<Tap>, deadline: Instant) -> Self {
        Self {
            inner,
            taps: Taps(taps),
            deadline,
            ended: false,
        }
    }

    fn end(&mut self, complete: bool) {
        self.ended = true;
        if complete {
            self.taps.complete();
        } else {
            // Dropping the taps unfinished ends the shadows' bodies in an error.
            self.taps.0.clear();
        }
    }
}

impl Body for Tee {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                this.taps.frame(frame);
                if this.inner.is_end_stream() {
                    this.end(true);
                }
            }
            Poll::Ready(None) => this.end(true),
            Poll::Ready(Some(Err(_))) => this.end(false),
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

impl Drop for Tee {
    fn drop(&mut self) {
        if self.ended || self.taps.0.is_empty() {
            return;
        }
        // A body whose last frame said it was the end may never be polled again.
        if self.inner.is_end_stream() {
            self.end(true);
            return;
        }
        let taps = Taps(std::mem::take(&mut self.taps.0));
        // Outside a runtime (never on the data path) the taps are dropped: the shadows cut off.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let rest = std::mem::replace(&mut self.inner, body::empty());
            runtime.spawn(drain(rest, taps, self.deadline));
        }
    }
}

/// Reads the rest of a body that the main request left, for the shadows alone. Returning
/// without completing `taps` cuts the shadows off.
async fn drain(mut rest: ProxyBody, mut taps: Taps, deadline: Instant) {
    let mut read = 0usize;
    let feed = async {
        for _ in 0..MAX_DRAINED_FRAMES {
            let frame = tokio::select! {
                frame = rest.frame() => frame,
                () = taps.gone() => return,
            };
            match frame {
                Some(Ok(frame)) => {
                    read += frame.data_ref().map_or(0, Bytes::len);
                    if read > SHADOW_BODY_BUFFER {
                        tracing::debug!(read, "the rest of a mirrored body is too large: dropped");
                        taps.fell_behind();
                        return;
                    }
                    taps.frame(&frame);
                    if rest.is_end_stream() {
                        taps.complete();
                        return;
                    }
                }
                None => {
                    taps.complete();
                    return;
                }
                Some(Err(_)) => return,
            }
            if taps.0.is_empty() {
                return;
            }
        }
        tracing::debug!("the rest of a mirrored body came in too many frames: dropped");
        taps.fell_behind();
    };
    if tokio::time::timeout_at(deadline, feed).await.is_err() {
        tracing::debug!("the rest of a mirrored body outlived its shadows");
    }
}

// === impl Taps ===

impl Taps {
    fn frame(&mut self, frame: &Frame<Bytes>) {
        self.0.retain(|tap| tap.offer(frame));
    }

    /// The shadows' bodies end normally too once drained.
    fn complete(&mut self) {
        for tap in self.0.drain(..) {
            tap.complete();
        }
    }

    /// Cuts every shadow off as if it fell behind, so that it counts as dropped.
    fn fell_behind(&mut self) {
        for tap in self.0.drain(..) {
            tap.shared.fell_behind.store(true, Ordering::Release);
        }
    }

    /// Resolves once every shadow has stopped reading its body.
    fn gone(&self) -> impl Future<Output = ()> + '_ {
        let closed = self.0.iter().map(|tap| tap.tx.closed());
        async move {
            futures_util::future::join_all(closed).await;
        }
    }
}

// === impl Tapped ===

impl Body for Tapped {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(frame)) => {
                let len = frame.data_ref().map_or(0, Bytes::len);
                self.shared.queued.fetch_sub(len, Ordering::AcqRel);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                self.done = true;
                if self.shared.complete.load(Ordering::Acquire) {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(Some(Err(CutOff.into())))
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

#[cfg(test)]
mod tests;
