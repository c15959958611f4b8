//! The HTTP/1.1 header timeout of a downstream connection, kept by one timer per connection
//! instead of one per request.
//!
//! hyper's own `header_read_timeout` boxes and arms a fresh timer each time a kept-alive
//! connection starts reading a request head, and cancels it once the head is parsed: an
//! allocation and a timer-wheel insert and removal per request. This one wakes once per period
//! ([`HEADER_TIMEOUT`] unless `HttpContext::with_header_timeout` says otherwise) per
//! connection and looks at what the connection did since the last wake-up:
//!
//! - a connection that has not sent a complete request head by the first wake-up (nothing
//!   sent, or a head trickled too slowly) is closed at once, as hyper's timer did;
//! - a connection that started no request during a whole period and has no request waiting
//!   for its response is closed gracefully: hyper closes it at once when it is between
//!   requests or part-way through the next head, and after the response being sent otherwise.
//!
//! So a kept-alive connection left idle is closed 30 to 60 s after its last request started
//! (hyper's timer: 30 s after the response), and one that trickles a later head, within 60 s.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// How long a downstream HTTP/1.1 connection may take to send its first request head, and the
/// period at which an idle one is checked, by default.
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// What the requests of one connection did, counted by its service and read by its timer.
#[derive(Debug, Default)]
pub(super) struct Activity {
    /// Request heads parsed so far.
    heads: AtomicU64,
    /// Requests whose handler has not returned its response yet.
    in_flight: AtomicU64,
}

/// Held while a request's handler runs.
#[derive(Debug)]
pub(super) struct InFlight(Arc<Activity>);

/// What the connection's timer does at a wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The connection is in use: check again one period later.
    Keep,
    /// Nothing happened for a period: close once no response is being sent.
    Drain,
    /// No request head arrived in time: close now.
    Close,
}

/// The timer's memory between wake-ups.
#[derive(Debug, Default)]
pub(super) struct HeaderTimer {
    heads_seen: u64,
}

// === impl Activity ===

impl Activity {
    /// Counts a request whose head was just parsed; it is in flight until the guard drops.
    pub(super) fn start(self: &Arc<Self>) -> InFlight {
        self.heads.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

// === impl HeaderTimer ===

impl HeaderTimer {
    /// The verdict at a wake-up, one period after the previous one (or after the accept).
    pub(super) fn check(&mut self, activity: &Activity) -> Verdict {
        let heads = activity.heads.load(Ordering::Relaxed);
        if heads == 0 {
            return Verdict::Close;
        }
        let busy = activity.in_flight.load(Ordering::Relaxed) > 0;
        if busy || heads != self.heads_seen {
            self.heads_seen = heads;
            return Verdict::Keep;
        }
        Verdict::Drain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_without_a_request_head_is_closed() {
        let activity = Activity::default();
        assert_eq!(HeaderTimer::default().check(&activity), Verdict::Close);
    }

    #[test]
    fn a_connection_is_drained_after_a_whole_idle_period() {
        let activity = Arc::new(Activity::default());
        let mut timer = HeaderTimer::default();
        drop(activity.start());
        assert_eq!(timer.check(&activity), Verdict::Keep);
        assert_eq!(timer.check(&activity), Verdict::Drain);
        drop(activity.start());
        assert_eq!(timer.check(&activity), Verdict::Keep);
        assert_eq!(timer.check(&activity), Verdict::Drain);
    }

    #[test]
    fn a_request_waiting_for_its_response_keeps_the_connection() {
        let activity = Arc::new(Activity::default());
        let mut timer = HeaderTimer::default();
        let waiting = activity.start();
        assert_eq!(timer.check(&activity), Verdict::Keep);
        assert_eq!(timer.check(&activity), Verdict::Keep);
        drop(waiting);
        assert_eq!(timer.check(&activity), Verdict::Drain);
    }
}
