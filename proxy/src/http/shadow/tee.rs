//! The request body split between the main request and its shadows: the main request reads
//! the body as before, and each frame it reads is queued for every shadow. A shadow whose queue
//! would pass [`SHADOW_BODY_BUFFER`] bytes is cut off, so the main request never waits for a
//! shadow and a slow shadow never holds more than that.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use super::SHADOW_BODY_BUFFER;
use crate::{
    http::body::ProxyBody,
    upstream::{BoxError, UpstreamBody},
};

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
}

/// The main side of one shadow's queue.
pub struct Tap {
    tx: mpsc::UnboundedSender<Frame<Bytes>>,
    shared: Arc<Shared>,
}

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
    taps: Vec<Tap>,
}

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
            return false;
        }
        self.tx.send(copy).is_ok()
    }

    fn complete(&self) {
        self.shared.complete.store(true, Ordering::Release);
    }
}

// === impl Tee ===

impl Tee {
    /// Wraps `inner`, feeding `taps`.
    pub fn new(inner: ProxyBody, taps: Vec<Tap>) -> Self {
        Self { inner, taps }
    }

    /// The body ended normally: the shadows' bodies end normally too once drained.
    fn finish(&mut self) {
        for tap in self.taps.drain(..) {
            tap.complete();
        }
    }
}

impl Body for Tee {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                self.taps.retain(|tap| tap.offer(frame));
                if self.inner.is_end_stream() {
                    self.finish();
                }
            }
            Poll::Ready(None) => self.finish(),
            // Dropping the taps unfinished ends the shadows' bodies in an error.
            Poll::Ready(Some(Err(_))) => self.taps.clear(),
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
        // A body whose last frame said it was the end may never be polled again.
        if self.inner.is_end_stream() {
            self.finish();
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
