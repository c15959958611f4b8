//! The response body of a traced request: counts what is sent and finishes the span when the
//! body ends, or with `DC` when the client goes away first (as the access log does).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use bytes::Bytes;
use hyper::body::Frame;

use super::span::{ActiveSpan, SpanEnd};
use crate::{
    http::{End, ProxyBody, Watch, Watched},
    response_flags::ResponseFlag,
};

/// A response body whose end finishes its span.
pub(crate) type Traced = Watched<ProxyBody, FinishSpan>;

/// The [`Watch`] of [`Traced`]: counts the response bytes and finishes the span at the end.
#[derive(Debug)]
pub(crate) struct FinishSpan {
    span: Option<ActiveSpan>,
    end: SpanEnd,
    received: Arc<AtomicU64>,
}

/// Wraps `inner` so that `span` finishes with `end` when it ends; `received` counts the
/// request body.
pub(crate) fn traced(
    inner: ProxyBody,
    span: ActiveSpan,
    end: SpanEnd,
    received: Arc<AtomicU64>,
) -> Traced {
    Watched::with(
        inner,
        FinishSpan {
            span: Some(span),
            end,
            received,
        },
    )
}

impl<E> Watch<E> for FinishSpan {
    fn frame(&mut self, frame: &Frame<Bytes>) {
        if let Some(data) = frame.data_ref() {
            self.end.response_size += data.len() as u64;
        }
    }

    fn end(&mut self, end: End<'_, E>) {
        let Some(span) = self.span.take() else {
            return;
        };
        let mut span_end = std::mem::take(&mut self.end);
        if !matches!(end, End::Complete) {
            span_end
                .flags
                .insert(ResponseFlag::DownstreamConnectionTermination);
        }
        span_end.request_size = self.received.load(Ordering::Relaxed);
        span.finish(span_end);
    }
}
