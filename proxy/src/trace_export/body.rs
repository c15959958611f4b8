//! The response body of a traced request: counts what is sent and finishes the span when the
//! body ends, or with `DC` when the client goes away first (as the access log does).

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

use super::span::{ActiveSpan, SpanEnd};
use crate::{http::ProxyBody, response_flags::ResponseFlag, upstream::BoxError};

/// Wraps a response body; the span ends with it.
#[derive(Debug)]
pub struct Traced {
    inner: ProxyBody,
    pending: Option<(ActiveSpan, SpanEnd)>,
    received: Arc<AtomicU64>,
}

// === impl Traced ===

impl Traced {
    /// Finishes `span` with `end` when `inner` ends; `received` counts the request body.
    pub fn new(inner: ProxyBody, span: ActiveSpan, end: SpanEnd, received: Arc<AtomicU64>) -> Self {
        Self {
            inner,
            pending: Some((span, end)),
            received,
        }
    }

    fn finish(&mut self, complete: bool) {
        if let Some((span, mut end)) = self.pending.take() {
            if !complete {
                end.flags
                    .insert(ResponseFlag::DownstreamConnectionTermination);
            }
            end.request_size = self.received.load(Ordering::Relaxed);
            span.finish(end);
        }
    }
}

impl Body for Traced {
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
                if let (Some(data), Some((_, end))) = (frame.data_ref(), this.pending.as_mut()) {
                    end.response_size += data.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
            }
            Poll::Ready(None) => this.finish(true),
            Poll::Ready(Some(Err(_))) => this.finish(false),
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

impl Drop for Traced {
    fn drop(&mut self) {
        // An empty body hyper never polls is complete; anything else was cut short.
        let complete = self.inner.is_end_stream();
        self.finish(complete);
    }
}
