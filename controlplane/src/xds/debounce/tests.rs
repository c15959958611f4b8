//! When pushes fire, on tokio's paused clock: exact instants, no waiting on real time.

use pretty_assertions::assert_eq;
use tokio::sync::mpsc;

use super::*;

const QUIET: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_millis(250);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn namespaces(names: &[&str]) -> Scope {
    Scope::Namespaces(names.iter().map(|n| n.to_string()).collect())
}

fn change(version: u64, names: &[&str]) -> Changed {
    Changed {
        version,
        scope: namespaces(names),
    }
}

/// A debouncer with a window of [`QUIET`] and [`MAX`], having taken the current config as its
/// baseline.
async fn started() -> (watch::Sender<Changed>, watch::Receiver<Changed>) {
    let (changes_tx, changes_rx) = watch::channel(Changed::default());
    let (pushes_tx, pushes_rx) = watch::channel(Changed::default());
    let options = DebounceOptions {
        quiet: QUIET,
        max_delay: MAX,
    };
    tokio::spawn(debounce(changes_rx, pushes_tx, options));
    tokio::task::yield_now().await;
    (changes_tx, pushes_rx)
}

/// Sends one change at each of `offsets` from `start`, each naming its own namespace (`n0`,
/// `n1`, …), then drops the sender 10 s after the last (closing flushes a held burst at once).
fn send_at(changes: watch::Sender<Changed>, start: Instant, offsets: Vec<u64>) {
    tokio::spawn(async move {
        let mut last = start;
        for (n, offset) in offsets.into_iter().enumerate() {
            last = start + ms(offset);
            time::sleep_until(last).await;
            let version = n as u64 + 1;
            changes.send_replace(change(version, &[&format!("n{n}")]));
        }
        time::sleep_until(last + Duration::from_secs(10)).await;
    });
}

/// Every push until the debouncer returns, with when it came (ms after `start`).
async fn pushes_until_closed(
    mut pushes: watch::Receiver<Changed>,
    start: Instant,
) -> Vec<(u128, Changed)> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while pushes.changed().await.is_ok() {
            let push = pushes.borrow_and_update().clone();
            // The receiver outlives this task.
            let _ = tx.send((start.elapsed().as_millis(), push));
        }
    });
    let mut seen = Vec::new();
    while let Some(push) = rx.recv().await {
        seen.push(push);
    }
    seen
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("n{n}")).collect()
}

fn pushed(version: u64, range: std::ops::Range<usize>) -> Changed {
    let names = names(range);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    change(version, &names)
}

#[tokio::test(start_paused = true)]
async fn a_lone_change_is_pushed_at_once() {
    let (changes, pushes) = started().await;
    let start = Instant::now();
    send_at(changes, start, vec![0]);
    assert_eq!(
        pushes_until_closed(pushes, start).await,
        [(0, pushed(1, 0..1))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_within_the_window_is_pushed_twice_leading_and_trailing() {
    let (changes, pushes) = started().await;
    let start = Instant::now();
    // Ten changes, 10 ms apart.
    send_at(changes, start, (0..10).map(|n| n * 10).collect());
    assert_eq!(
        pushes_until_closed(pushes, start).await,
        [
            // The first goes at once; the nine others once the window after the last (90 ms)
            // has been quiet.
            (0, pushed(1, 0..1)),
            (190, pushed(2, 1..10)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn steady_churn_is_pushed_once_per_max_delay() {
    let (changes, pushes) = started().await;
    let start = Instant::now();
    // A change every 60 ms, never a quiet window, from 0 to 900 ms.
    send_at(changes, start, (0..16).map(|n| n * 60).collect());
    assert_eq!(
        pushes_until_closed(pushes, start).await,
        [
            (0, pushed(1, 0..1)),
            // 60 ms + the max of 250 ms.
            (310, pushed(2, 1..6)),
            // The change at 360 came 60 ms after the last: it opens the next burst.
            (610, pushed(3, 6..11)),
            (910, pushed(4, 11..16)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_change_after_a_quiet_window_is_leading_again() {
    let (changes, pushes) = started().await;
    let start = Instant::now();
    // A burst of two, then a change 110 ms after the last of it, then a lone one.
    send_at(changes, start, vec![0, 50, 160, 400]);
    assert_eq!(
        pushes_until_closed(pushes, start).await,
        [
            (0, pushed(1, 0..1)),
            (150, pushed(2, 1..2)),
            (160, pushed(3, 2..3)),
            (400, pushed(4, 3..4)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_window_each_change_is_pushed_at_once() {
    let (changes_tx, changes_rx) = watch::channel(Changed::default());
    let (pushes_tx, pushes) = watch::channel(Changed::default());
    tokio::spawn(debounce(changes_rx, pushes_tx, DebounceOptions::NONE));
    tokio::task::yield_now().await;
    let start = Instant::now();
    send_at(changes_tx, start, vec![0, 10, 20]);
    assert_eq!(
        pushes_until_closed(pushes, start).await,
        [
            (0, pushed(1, 0..1)),
            (10, pushed(2, 1..2)),
            (20, pushed(3, 2..3)),
        ]
    );
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
