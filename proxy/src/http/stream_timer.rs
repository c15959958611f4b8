//! A stream's two timers, as Envoy's connection manager keeps them: the idle timer
//! (`stream_idle_timeout`, which a route's `idle_timeout` replaces), pushed back by every frame
//! in either direction, and the route's `max_stream_duration`, counted from the stream's start.
//!
//! Before the response headers, an expired timer answers the request locally (see
//! [`StreamTimer::local_reply`]); after them, [`Timed`] fails the response body, which resets
//! the stream (HTTP/2 `RST_STREAM`, HTTP/1.1 closes the connection).

use std::{
    error::Error,
    fmt,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{Response, StatusCode};
use hyper::body::{Body, Frame, SizeHint};
use tokio::{
    sync::Notify,
    time::{Instant, Sleep},
};

use super::{body::ProxyBody, local};
use crate::upstream::BoxError;

/// Which timer expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// No frame moved either way for the idle timeout (flag `SI`).
    Idle,
    /// The stream outlived the route's `max_stream_duration`.
    Duration,
}

/// The error a [`Timed`] body fails with when a timer expires after the response headers.
#[derive(Debug)]
pub struct StreamTimeout(pub Expiry);

/// The timers of one stream, shared by its request body, its routing and its response body.
#[derive(Debug)]
pub struct StreamTimer {
    start: Instant,
    /// Nanoseconds from `start` to the last frame either way.
    last_activity: AtomicU64,
    /// The idle timeout in nanoseconds; zero when disabled.
    idle: AtomicU64,
    /// The maximum duration in nanoseconds from `start`; zero when unbounded.
    max_duration: AtomicU64,
    request_complete: AtomicBool,
    /// Wakes [`StreamTimer::expired`] when the route changes the timers.
    changed: Notify,
}

// === impl StreamTimer ===

impl StreamTimer {
    /// The timers of a stream starting now, with the connection manager's idle timeout.
    pub fn new(idle: Option<Duration>) -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            last_activity: AtomicU64::new(0),
            idle: AtomicU64::new(nanos(idle)),
            max_duration: AtomicU64::new(0),
            request_complete: AtomicBool::new(false),
            changed: Notify::new(),
        })
    }

    /// Applies the matched route's `idle_timeout` (`None` keeps the connection manager's,
    /// `Some(None)` disables it) and `max_stream_duration`.
    pub fn route(&self, idle: Option<Option<Duration>>, max_duration: Option<Duration>) {
        if let Some(idle) = idle {
            self.idle.store(nanos(idle), Ordering::Relaxed);
        }
        self.max_duration
            .store(nanos(max_duration), Ordering::Relaxed);
        // Envoy restarts the idle timer once the route is known.
        self.touch();
        self.changed.notify_waiters();
    }

    /// A frame moved: pushes the idle timer back.
    pub fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last_activity.fetch_max(now, Ordering::Relaxed);
    }

    /// The whole request (headers, body, trailers) has arrived.
    pub fn complete_request(&self) {
        self.request_complete.store(true, Ordering::Relaxed);
    }

    /// The next moment a timer expires, and which; `None` when both are off.
    fn deadline(&self) -> Option<(Instant, Expiry)> {
        let idle = match self.idle.load(Ordering::Relaxed) {
            0 => None,
            idle => self.at(self
                .last_activity
                .load(Ordering::Relaxed)
                .saturating_add(idle)),
        };
        let duration = match self.max_duration.load(Ordering::Relaxed) {
            0 => None,
            max => self.at(max),
        };
        match (idle, duration) {
            (Some(i), Some(d)) if d <= i => Some((d, Expiry::Duration)),
            (Some(i), _) => Some((i, Expiry::Idle)),
            (None, Some(d)) => Some((d, Expiry::Duration)),
            (None, None) => None,
        }
    }

    /// `nanos` after the start; `None` past the end of the clock (never, in practice).
    fn at(&self, nanos: u64) -> Option<Instant> {
        self.start.checked_add(Duration::from_nanos(nanos))
    }

    /// Which timer has expired by now, if any.
    fn expired_now(&self) -> Option<Expiry> {
        self.deadline()
            .filter(|(at, _)| *at <= Instant::now())
            .map(|(_, expiry)| expiry)
    }

    /// Resolves when a timer expires; never when both stay off.
    pub async fn expired(&self) -> Expiry {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before reading the timers, so that a change in between is not missed.
            changed.as_mut().enable();
            match self.deadline() {
                None => changed.await,
                Some((at, _)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = changed => {}
                    }
                }
            }
            if let Some(expiry) = self.expired_now() {
                return expiry;
            }
        }
    }

    /// Envoy's local reply to a stream whose timer expired before the response started: 408
    /// while the request was still arriving, 504 once it had all arrived.
    pub fn local_reply(&self, expiry: Expiry) -> Response<ProxyBody> {
        let status = if self.request_complete.load(Ordering::Relaxed) {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::REQUEST_TIMEOUT
        };
        let body = match expiry {
            Expiry::Idle => "stream timeout",
            Expiry::Duration => "downstream duration timeout",
        };
        local::respond(status, body)
    }
}

/// Saturating nanoseconds; zero for `None`.
fn nanos(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| {
        u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
    })
}

// === impl StreamTimeout ===

impl fmt::Display for StreamTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Expiry::Idle => f.write_str("stream idle timeout"),
            Expiry::Duration => f.write_str("max stream duration reached"),
        }
    }
}

impl Error for StreamTimeout {}

/// A body whose frames push the stream's idle timer back. On the request side it also notes
/// the end of the request; on the response side it fails when a timer expires.
pub struct Timed {
    inner: ProxyBody,
    timer: Arc<StreamTimer>,
    /// Only the response side enforces the timers: the request side is read by the upstream
    /// exchange, which the routing race already bounds.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Timed {
    /// A request body: frames touch the timer, its end completes the request.
    pub fn request(inner: ProxyBody, timer: Arc<StreamTimer>) -> Self {
        if inner.is_end_stream() {
            timer.complete_request();
        }
        Self {
            inner,
            timer,
            sleep: None,
        }
    }

    /// A response body: frames touch the timer, and an expired timer fails the body.
    pub fn response(inner: ProxyBody, timer: Arc<StreamTimer>) -> Self {
        Self {
            inner,
            timer,
            sleep: Some(Box::pin(tokio::time::sleep(Duration::ZERO))),
        }
    }

    fn poll_timers(&mut self, cx: &mut Context<'_>) -> Poll<StreamTimeout> {
        let Some(sleep) = self.sleep.as_mut() else {
            return Poll::Pending;
        };
        // Each turn either returns or finds its deadline passed; a deadline pushed back by
        // the other direction in between costs one more turn.
        loop {
            let Some((at, expiry)) = self.timer.deadline() else {
                return Poll::Pending;
            };
            if at <= Instant::now() {
                return Poll::Ready(StreamTimeout(expiry));
            }
            sleep.as_mut().reset(at);
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
    }
}

impl Body for Timed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.timer.touch();
                if this.sleep.is_none() && this.inner.is_end_stream() {
                    this.timer.complete_request();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => {
                if this.sleep.is_none() {
                    this.timer.complete_request();
                }
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
            Poll::Pending => match this.poll_timers(cx) {
                Poll::Ready(timeout) => Poll::Ready(Some(Err(Box::new(timeout)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
