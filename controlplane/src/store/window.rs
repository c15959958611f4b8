//! [`Window`]: when a change goes out — at once after a quiet spell, else with the burst it
//! belongs to.
//!
//! Istio debounces every push (`PILOT_DEBOUNCE_AFTER`, 100 ms of quiet, at most
//! `PILOT_DEBOUNCE_MAX` after the first change), so a lone change always waits one window. Here
//! the window has a leading edge: a change that comes after `quiet` without any goes at once,
//! and the changes that follow it within the window are gathered and go together once the
//! window has been quiet (the trailing edge), or `max_delay` after the first of them. A lone
//! change waits for nothing; a burst goes out twice (its first change, then the rest); steady
//! churn goes out once per `max_delay`.
//!
//! Pure bookkeeping over tokio's clock: the stores and the xDS debouncer drive it with their own
//! channels.

use std::time::Duration;

use tokio::time::Instant;

/// When changes go out; see the module.
#[derive(Clone, Debug)]
pub struct Window {
    quiet: Duration,
    max_delay: Duration,
    /// When the last change came.
    last: Option<Instant>,
}

/// A burst of changes the window gathers: those that go out together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Burst {
    started: Instant,
    /// It came after a quiet spell: it may go as soon as it is whole.
    pub leading: bool,
}

// === impl Window ===

impl Window {
    /// A window of `quiet` (the `--debounce`), a burst waiting at most `max_delay` after its
    /// first change. With no `quiet`, every change goes at once.
    pub fn new(quiet: Duration, max_delay: Duration) -> Self {
        Self {
            quiet,
            max_delay,
            last: None,
        }
    }

    /// A burst begins with a change at `now`; it is leading when no change came for `quiet`.
    pub fn open(&mut self, now: Instant) -> Burst {
        let leading = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.quiet);
        self.last = Some(now);
        Burst {
            started: now,
            leading,
        }
    }

    /// Another change of the open burst came at `now`.
    pub fn add(&mut self, now: Instant) {
        self.last = Some(now);
    }

    /// When `burst` goes out if no other change comes: once the window has been quiet, and
    /// never later than `max_delay` after its first change.
    pub fn due(&self, burst: &Burst) -> Instant {
        let quiet_from = self.last.unwrap_or(burst.started) + self.quiet;
        quiet_from.min(self.deadline(burst))
    }

    /// The latest `burst` goes out, however many changes still come.
    pub fn deadline(&self, burst: &Burst) -> Instant {
        burst.started + self.max_delay
    }
}

#[cfg(test)]
mod tests;
