//! Coalesces bursts of config changes into few pushes.
//!
//! A `kubectl apply` of ten objects is ten changes in a few milliseconds; pushing each would
//! send every proxy ten configs. The debounce [`Window`] has a leading edge: a change that comes
//! after a quiet spell is pushed at once, and the changes that follow it within the window are
//! pushed together once the window has been quiet, but never later than the max delay after
//! the first of them, so that a steady trickle of changes cannot starve the proxies.
//!
//! The control plane's stores already apply that window before they build a snapshot (the
//! snapshot is what is expensive to make, and the config directories must be read once a
//! write is complete), so the control plane runs this with [`DebounceOptions::NONE`]: a
//! change is held by one window at most, not one in the store and another here.

use std::time::Duration;

use tokio::{
    sync::watch,
    time::{self, Instant},
};

use super::{generator::Changed, scope::Scope};
use crate::store::Window;

/// How changes are coalesced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebounceOptions {
    /// A change after this long without any is pushed at once; those that follow within it
    /// wait until no change came for this long.
    pub quiet: Duration,
    /// ... but no longer than this after the first change they carry.
    pub max_delay: Duration,
}

// === impl DebounceOptions ===

impl DebounceOptions {
    /// No window: each change is pushed as it comes, for a source that coalesces bursts itself.
    pub const NONE: DebounceOptions = DebounceOptions {
        quiet: Duration::ZERO,
        max_delay: Duration::ZERO,
    };
}

impl Default for DebounceOptions {
    fn default() -> Self {
        Self {
            quiet: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }
}

/// Reads config changes and publishes pushes on `pushes`, each carrying the merged scope of
/// the changes it stands for. The pushes' `version` counts pushes from 1, so that streams can
/// tell when they missed one. The config `changes` holds when this starts is the baseline:
/// proxies get it when they ask. Returns when `changes`' sender is gone, after the last push.
pub async fn debounce(
    mut changes: watch::Receiver<Changed>,
    pushes: watch::Sender<Changed>,
    options: DebounceOptions,
) {
    let mut seen = changes.borrow_and_update().version;
    let mut sent = 0;
    let mut window = Window::new(options.quiet, options.max_delay);
    while changes.changed().await.is_ok() {
        let burst = window.open(Instant::now());
        let mut scope = take(&mut changes, &mut seen);
        let mut open = true;
        // A leading change goes at once; one that came with it is in `scope` already.
        while open && !burst.leading {
            tokio::select! {
                () = time::sleep_until(window.due(&burst)) => break,
                changed = changes.changed() => match changed {
                    Ok(()) => {
                        window.add(Instant::now());
                        scope = scope.merge(take(&mut changes, &mut seen));
                    }
                    Err(_) => open = false,
                },
            }
        }
        sent += 1;
        pushes.send_replace(Changed {
            version: sent,
            scope,
        });
        if !open {
            return;
        }
    }
}

/// The scope of the latest change and of any the `watch` skipped.
fn take(changes: &mut watch::Receiver<Changed>, seen: &mut u64) -> Scope {
    let change = changes.borrow_and_update().clone();
    let scope = change.scope_since(*seen);
    *seen = change.version;
    scope
}

#[cfg(test)]
mod tests;
