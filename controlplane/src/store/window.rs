//! [`Window`]: when a change goes out — at once after a quiet spell, else with the burst it
//! belongs to.
//!
//! Istio debounces every push (`PILOT_DEBOUNCE_AFTER`, 100 ms of quiet, at most
//! `PILOT_DEBOUNCE_MAX` after the first change), so a lone change always waits one window:
//! objects applied together land together. A window may also have a leading edge
//! ([`Window::new`]): a change that comes after `quiet` without any may go at once, and the
//! changes that follow it within the window are gathered and go together once the window has
//! been quiet (the trailing edge), or `max_delay` after the first of them. Steady churn goes out
//! once per `max_delay` either way.
//!
//! The stores take the leading edge for endpoint changes alone ([`Window::for_store`],
//! [`is_endpoint_kind`]), as Istio does with `PILOT_ENABLE_EDS_DEBOUNCE=false`: endpoint state
//! is consistent object by object, while a config change (a VirtualService without the
//! DestinationRule applied with it) is not, so a leading burst that changed anything else is
//! held for its trailing edge, with whatever joins it.
//!
//! Pure bookkeeping over tokio's clock: the stores and the xDS debouncer drive it with their own
//! channels.

use std::time::Duration;

use mesh_common::load::LoadedKind;
use tokio::time::Instant;

/// When changes go out; see the module.
#[derive(Clone, Debug)]
pub struct Window {
    quiet: Duration,
    max_delay: Duration,
    /// Whether a change after a quiet spell goes at once.
    leading_edge: bool,
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

// === impl Burst ===

impl Burst {
    /// How long ago, at `now`, its first change came.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }
}

// === impl Window ===

impl Window {
    /// A window of `quiet` (the `--debounce`), a burst waiting at most `max_delay` after its
    /// first change. With no `quiet`, every change goes at once.
    pub fn new(quiet: Duration, max_delay: Duration) -> Self {
        Self {
            quiet,
            max_delay,
            leading_edge: true,
            last: None,
        }
    }

    /// A window without a leading edge, as Istio debounces config: every change waits until
    /// the window has been quiet, so objects applied together (a VirtualService and the
    /// DestinationRule that defines its subsets) reach proxies together, never one alone.
    pub fn trailing(quiet: Duration, max_delay: Duration) -> Self {
        Self {
            leading_edge: false,
            ..Self::new(quiet, max_delay)
        }
    }

    /// The window of a store: with a leading edge for endpoint changes, unless they are
    /// debounced as config is (`--debounce-endpoints`, Istio's default), when no change leads.
    pub fn for_store(quiet: Duration, max_delay: Duration, debounce_endpoints: bool) -> Self {
        match debounce_endpoints {
            true => Self::trailing(quiet, max_delay),
            false => Self::new(quiet, max_delay),
        }
    }

    /// A burst begins with a change at `now`; it is leading when the window has a leading edge
    /// and no change came for `quiet`, or when there is no window.
    pub fn open(&mut self, now: Instant) -> Burst {
        let leading = self.quiet.is_zero()
            || (self.leading_edge
                && self
                    .last
                    .is_none_or(|last| now.saturating_duration_since(last) >= self.quiet));
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

/// Whether a change of `kind` changes endpoints alone, and may go at a leading edge: an
/// EndpointSlice, or a Pod, which feeds only the endpoints of the services that select it (its
/// address, readiness, labels, service account, node and workload name).
pub fn is_endpoint_kind(kind: LoadedKind) -> bool {
    matches!(kind, LoadedKind::EndpointSlice | LoadedKind::Pod)
}

#[cfg(test)]
mod tests;
