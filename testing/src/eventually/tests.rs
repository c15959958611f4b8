use std::{cell::Cell, future, time::Duration};

use tokio::time::Instant;

use super::*;

const MS: Duration = Duration::from_millis(1);

#[tokio::test(start_paused = true)]
async fn returns_the_value_as_soon_as_the_check_passes() {
    let start = Instant::now();
    let attempts = Cell::new(0);
    let value = eventually(|| {
        attempts.set(attempts.get() + 1);
        let n = attempts.get();
        async move { if n < 3 { Err("not yet") } else { Ok(n * 10) } }
    })
    .await
    .unwrap();
    assert_eq!(value, 30);
    assert_eq!(attempts.get(), 3);
    assert_eq!(start.elapsed(), 20 * MS);
}

#[tokio::test(start_paused = true)]
async fn option_checks_wait_for_some() {
    let attempts = Cell::new(0);
    let value = eventually(|| {
        attempts.set(attempts.get() + 1);
        let n = attempts.get();
        async move { (n == 2).then_some("ready") }
    })
    .await
    .unwrap();
    assert_eq!(value, "ready");
    assert_eq!(attempts.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn gives_up_at_the_deadline_with_the_last_failure() {
    let attempts = Cell::new(0);
    let error = Patience::new(100 * MS)
        .eventually(|| {
            attempts.set(attempts.get() + 1);
            let n = attempts.get();
            async move { Err::<(), _>(format!("attempt {n} failed")) }
        })
        .await
        .unwrap_err();
    // At 0, 10, …, 90 ms, and once more at the deadline.
    assert_eq!(
        error,
        TimedOut {
            waited: 100 * MS,
            attempts: 11,
            last_failure: Some("attempt 11 failed".to_string()),
        }
    );
    assert_eq!(
        error.to_string(),
        r#"still failing after 100ms (11 attempts); last failure: "attempt 11 failed""#
    );
}

#[tokio::test(start_paused = true)]
async fn waits_the_interval_between_checks() {
    let start = Instant::now();
    let times = std::cell::RefCell::new(Vec::new());
    let error = Patience::new(Duration::from_secs(1))
        .every(300 * MS)
        .eventually(|| {
            times.borrow_mut().push(start.elapsed());
            async { None::<()> }
        })
        .await
        .unwrap_err();
    assert_eq!(
        *times.borrow(),
        [Duration::ZERO, 300 * MS, 600 * MS, 900 * MS, 1000 * MS]
    );
    assert_eq!(
        error.to_string(),
        "still failing after 1s (5 attempts); last failure: NoneYet"
    );
}

#[tokio::test(start_paused = true)]
async fn a_check_that_hangs_is_cut_off_at_the_deadline() {
    let error = Patience::new(Duration::from_secs(2))
        .eventually(future::pending::<Result<(), &str>>)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        TimedOut {
            waited: Duration::from_secs(2),
            attempts: 1,
            last_failure: None,
        }
    );
    assert_eq!(
        error.to_string(),
        "still failing after 2s (1 attempt); no attempt finished in time"
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_check_keeps_the_failure_of_the_one_before() {
    let attempts = Cell::new(0);
    let error = Patience::new(50 * MS)
        .eventually(|| {
            attempts.set(attempts.get() + 1);
            let n = attempts.get();
            async move {
                if n == 2 {
                    future::pending::<()>().await;
                }
                Err::<(), _>(n)
            }
        })
        .await
        .unwrap_err();
    assert_eq!(error.attempts, 2);
    assert_eq!(error.last_failure, Some(1));
    assert_eq!(error.waited, 50 * MS);
}

#[test]
fn unwrap_shows_the_message() {
    let error = TimedOut {
        waited: Duration::from_secs(5),
        attempts: 3,
        last_failure: Some("connection refused"),
    };
    assert_eq!(
        format!("{error:?}"),
        r#"still failing after 5s (3 attempts); last failure: "connection refused""#
    );
}

#[test]
fn default_patience_is_five_seconds_polled_every_ten_milliseconds() {
    let patience = Patience::default();
    assert_eq!(patience.timeout(), Duration::from_secs(5));
    assert_eq!(patience.interval(), 10 * MS);
}
