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
    http::body::{End, ProxyBody, Watch, Watched},
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
    /// Set when the shadow was cut off for falling [`SHADOW_BODY_BUFFER`] bytes behind.
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
pub type Tee = Watched<ProxyBody, Taps>;

/// The [`Watch`] of a [`Tee`]: the taps still fed.
#[derive(Debug)]
pub struct Taps(Vec<Tap>);

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

// === impl Taps ===

impl Tee {
    /// Wraps `inner`, feeding `taps`.
    pub fn new(inner: ProxyBody, taps: Vec<Tap>) -> Self {
        Self::with(inner, Taps(taps))
    }
}

impl Watch<BoxError> for Taps {
    fn frame(&mut self, frame: &Frame<Bytes>) {
        self.0.retain(|tap| tap.offer(frame));
    }

    fn end(&mut self, end: End<'_, BoxError>) {
        match end {
            // The shadows' bodies end normally too once drained.
            End::Complete => {
                for tap in self.0.drain(..) {
                    tap.complete();
                }
            }
            // Dropping the taps unfinished ends the shadows' bodies in an error.
            End::Failed(_) | End::Dropped => self.0.clear(),
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
