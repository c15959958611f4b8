use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use super::*;

/// A release that counts its calls.
fn counting() -> (MemoryRelease, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let release = MemoryRelease::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
    });
    (release, calls)
}

/// Sleeps `ms` of the paused clock, letting the release task run meanwhile.
async fn after(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

#[test]
fn release_calls_the_function_given() {
    let (release, calls) = counting();
    release.release();
    release.clone().release();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_change_is_released_once_it_has_settled() {
    let (release, calls) = counting();
    let (changes, receiver) = watch::channel(0u64);
    let task = tokio::spawn(release.after_changes(receiver, SETTLE, MAX_DEFER));
    after(5_000).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing changed yet");

    changes.send_modify(|generation| *generation += 1);
    after(999).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "released before it settled"
    );
    after(2).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    after(60_000).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "released again with no change"
    );

    drop(changes);
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("the task ends with the store")
        .expect("the task does not panic");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn changes_in_a_burst_are_released_once_after_the_last() {
    let (release, calls) = counting();
    let (changes, receiver) = watch::channel(0u64);
    let _task = tokio::spawn(release.after_changes(receiver, SETTLE, MAX_DEFER));
    after(1).await;
    // Clusters, endpoints, listeners, routes: 300 ms apart, within one settling time each.
    for _ in 0..4 {
        changes.send_modify(|generation| *generation += 1);
        after(300).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "released inside the burst");
    // The last change came 300 ms ago: it settles 700 ms from now.
    after(699).await;
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    after(2).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn changes_that_never_settle_are_released_every_max_defer() {
    let (release, calls) = counting();
    let (changes, receiver) = watch::channel(0u64);
    let _task = tokio::spawn(release.after_changes(receiver, SETTLE, MAX_DEFER));
    after(1).await;
    // A change every 450 ms for 22.5 s: never quiet for a whole second.
    for _ in 0..50 {
        changes.send_modify(|generation| *generation += 1);
        after(450).await;
    }
    // Released 10 s after the first change (t = 10.001 s), and 10 s after the first change
    // that followed (t = 20.351 s).
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // The last change (t = 22.051 s) settles at t = 23.051 s.
    after(1_000).await;
    assert_eq!(calls.load(Ordering::SeqCst), 3, "the last changes settle");
}
