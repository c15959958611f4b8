//! HTTP/2 pools that cap the streams of each connection, as a cluster's
//! `max_concurrent_streams` asks: a connection carrying that many streams takes no more, and
//! the next request opens another connection, as Envoy's pool does, instead of queueing behind
//! the busy one.
//!
//! hyper's pool multiplexes every request to an endpoint on one HTTP/2 connection and queues
//! what exceeds the upstream's own `SETTINGS_MAX_CONCURRENT_STREAMS`; it has no cap of its
//! own. So a capped pool is a row of *lanes*, each a hyper client of its own (one connection
//! per authority), and a request takes the first lane with a free stream. A stream is counted
//! from the request until its response body ends or is dropped ([`UpstreamResponseBody`]).

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    task::{Context, Poll},
};

use arc_swap::ArcSwap;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::client::legacy::Client;

use super::{FixedConnector, UpstreamBody};

/// Lanes per pool at most: past that (more than this many times the cap in flight, which the
/// circuit breaker's default `max_requests` of 1024 never allows) a request takes the least
/// busy lane, so that a pool cannot grow without bound.
const MAX_LANES: usize = 1024;

type HttpClient = Client<FixedConnector, UpstreamBody>;

/// A capped HTTP/2 pool to one endpoint.
pub(super) struct Lanes {
    cap: u32,
    lanes: ArcSwap<Vec<Arc<Lane>>>,
    /// Makes the client of a new lane.
    new_client: Box<dyn Fn() -> HttpClient + Send + Sync>,
}

struct Lane {
    client: HttpClient,
    streams: AtomicU32,
}

/// One stream on a lane, given back when dropped.
pub(super) struct StreamSlot(Arc<Lane>);

/// An upstream response's body; for a capped pool it holds the request's stream until it ends.
#[derive(Debug)]
pub struct UpstreamResponseBody {
    inner: Incoming,
    /// Given back when the body ends, fails or is dropped.
    slot: Option<StreamSlot>,
}

// === impl Lanes ===

impl Lanes {
    /// No lane yet: the first request opens one. `cap` is at least 1.
    pub(super) fn new(
        cap: u32,
        new_client: impl Fn() -> HttpClient + Send + Sync + 'static,
    ) -> Self {
        Self {
            cap: cap.max(1),
            lanes: ArcSwap::default(),
            new_client: Box::new(new_client),
        }
    }

    /// A lane with a free stream, that stream taken.
    pub(super) fn acquire(&self) -> StreamSlot {
        if let Some(lane) = self.lanes.load().iter().find(|l| l.reserve(self.cap)) {
            return StreamSlot(Arc::clone(lane));
        }
        let lane = Arc::new(Lane {
            client: (self.new_client)(),
            streams: AtomicU32::new(1),
        });
        let mut added = false;
        self.lanes.rcu(|current| {
            added = current.len() < MAX_LANES;
            if !added {
                return Arc::clone(current);
            }
            let mut next = Vec::clone(current);
            next.push(Arc::clone(&lane));
            Arc::new(next)
        });
        if added {
            return StreamSlot(lane);
        }
        let lanes = self.lanes.load();
        let least_busy = lanes
            .iter()
            .min_by_key(|l| l.streams.load(Ordering::Relaxed));
        let lane = least_busy.map_or(lane, Arc::clone);
        lane.streams.fetch_add(1, Ordering::AcqRel);
        StreamSlot(lane)
    }

    /// How many lanes were opened (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lanes.load().len()
    }
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lanes")
            .field("cap", &self.cap)
            .field("lanes", &self.lanes.load().len())
            .finish()
    }
}

// === impl Lane ===

impl Lane {
    /// Takes a stream if fewer than `cap` are open.
    fn reserve(&self, cap: u32) -> bool {
        self.streams
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cap).then_some(n + 1)
            })
            .is_ok()
    }
}

// === impl StreamSlot ===

impl StreamSlot {
    /// The client of the slot's lane.
    pub(super) fn client(&self) -> &HttpClient {
        &self.0.client
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.0.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for StreamSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSlot").finish_non_exhaustive()
    }
}

// === impl UpstreamResponseBody ===

impl UpstreamResponseBody {
    pub(super) fn new(inner: Incoming, slot: Option<StreamSlot>) -> Self {
        Self { inner, slot }
    }
}

impl Body for UpstreamResponseBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.slot = None;
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

#[cfg(test)]
mod tests;
