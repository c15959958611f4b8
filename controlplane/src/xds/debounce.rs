//! Coalesces bursts of config changes into one push.
//!
//! A `kubectl apply` of ten objects is ten changes in a few milliseconds; pushing each would
//! send every proxy ten configs. A push waits until no change came for the debounce window,
//! but never longer than the max delay after the first change, so that a steady trickle of
//! changes cannot starve the proxies.
//!
//! The control plane's stores already let a burst settle before they build a snapshot (the
//! snapshot is what is expensive to make, and the config directories must be read once a
//! write is complete), so the control plane runs this with [`DebounceOptions::NONE`]: every
//! change then waits one window in all, not one in the store and another here.

use std::time::Duration;

use tokio::{
    sync::watch,
    time::{self, Instant},
};

use super::{generator::Changed, scope::Scope};

/// How changes are coalesced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DebounceOptions {
    /// A push waits until no change came for this long.
    pub quiet: Duration,
    /// ... but no longer than this after the first change it carries.
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
    while changes.changed().await.is_ok() {
        let first = Instant::now();
        let mut scope = take(&mut changes, &mut seen);
        let mut open = true;
        // With no window, nothing waits: a change that came meanwhile is in `scope` already.
        while open && !options.quiet.is_zero() {
            let deadline = (Instant::now() + options.quiet).min(first + options.max_delay);
            tokio::select! {
                () = time::sleep_until(deadline) => break,
                changed = changes.changed() => match changed {
                    Ok(()) => scope = scope.merge(take(&mut changes, &mut seen)),
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
mod tests {
    use super::*;

    fn namespaces(names: &[&str]) -> Scope {
        Scope::Namespaces(names.iter().map(|n| n.to_string()).collect())
    }

    fn change(version: u64, names: &[&str]) -> Changed {
        Changed {
            version,
            scope: namespaces(names),
        }
    }

    fn start() -> (watch::Sender<Changed>, watch::Receiver<Changed>) {
        let (changes_tx, changes_rx) = watch::channel(Changed::default());
        let (pushes_tx, pushes_rx) = watch::channel(Changed::default());
        let options = DebounceOptions {
            quiet: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
        };
        tokio::spawn(debounce(changes_rx, pushes_tx, options));
        (changes_tx, pushes_rx)
    }

    /// Lets the debouncer take the current config as its baseline.
    async fn started() -> (watch::Sender<Changed>, watch::Receiver<Changed>) {
        let channels = start();
        tokio::task::yield_now().await;
        channels
    }

    #[tokio::test(start_paused = true)]
    async fn changes_within_the_window_make_one_push() {
        let (changes, mut pushes) = started().await;
        let start = Instant::now();
        changes.send_replace(change(1, &["a"]));
        time::sleep(Duration::from_millis(60)).await;
        assert!(!pushes.has_changed().unwrap());
        changes.send_replace(change(2, &["b"]));
        pushes.changed().await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(160));
        assert_eq!(*pushes.borrow_and_update(), change(1, &["a", "b"]));

        changes.send_replace(change(3, &["c"]));
        pushes.changed().await.unwrap();
        assert_eq!(*pushes.borrow_and_update(), change(2, &["c"]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_of_changes_is_pushed_by_the_max_delay() {
        let (changes, mut pushes) = started().await;
        let start = Instant::now();
        for version in 1..=5 {
            changes.send_replace(change(version, &["a"]));
            if version < 5 {
                time::sleep(Duration::from_millis(60)).await;
                assert!(!pushes.has_changed().unwrap(), "pushed before {version}");
            }
        }
        pushes.changed().await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(250));
        assert_eq!(*pushes.borrow_and_update(), change(1, &["a"]));
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_window_each_change_is_pushed_at_once() {
        let (changes_tx, changes_rx) = watch::channel(Changed::default());
        let (pushes_tx, mut pushes) = watch::channel(Changed::default());
        tokio::spawn(debounce(changes_rx, pushes_tx, DebounceOptions::NONE));
        tokio::task::yield_now().await;
        let start = Instant::now();
        changes_tx.send_replace(change(1, &["a"]));
        pushes.changed().await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(*pushes.borrow_and_update(), change(1, &["a"]));
        changes_tx.send_replace(change(2, &["b"]));
        pushes.changed().await.unwrap();
        assert_eq!(start.elapsed(), Duration::ZERO);
        assert_eq!(*pushes.borrow_and_update(), change(2, &["b"]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_skipped_change_pushes_to_all_and_a_closed_source_flushes() {
        let (changes, mut pushes) = started().await;
        changes.send_replace(change(2, &["a"]));
        drop(changes);
        pushes.changed().await.unwrap();
        assert_eq!(
            *pushes.borrow_and_update(),
            Changed {
                version: 1,
                scope: Scope::All
            }
        );
        // The debouncer returned and dropped its sender.
        assert!(pushes.changed().await.is_err());
    }
}
