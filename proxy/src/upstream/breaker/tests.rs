use std::time::Duration;

use super::*;

fn limits(max_connections: u32, max_pending_requests: u32, max_requests: u32) -> Thresholds {
    Thresholds {
        max_connections,
        max_pending_requests,
        max_requests,
        max_retries: 1,
    }
}

#[test]
fn unset_thresholds_are_envoys_defaults() {
    assert_eq!(
        CircuitBreaker::default().thresholds(),
        Thresholds {
            max_connections: 1024,
            max_pending_requests: 1024,
            max_requests: 1024,
            max_retries: 3,
        }
    );
}

#[tokio::test(start_paused = true)]
async fn http1_requests_wait_for_a_connection_until_the_pending_limit_overflows() {
    let breaker = Arc::new(CircuitBreaker::new(limits(1, 1, 100)));
    let first = breaker.admit(true).await.unwrap();

    // The second waits for the only connection...
    let waiting = tokio::spawn({
        let breaker = Arc::clone(&breaker);
        async move { breaker.admit(true).await.map(drop) }
    });
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    // ...and the third finds the pending queue full.
    assert_eq!(
        breaker.admit(true).await.map(drop),
        Err(Overflow::MaxPendingRequests)
    );

    drop(first);
    let admitted = tokio::time::timeout(Duration::from_secs(1), waiting).await;
    assert_eq!(admitted.unwrap().unwrap(), Ok(()));
    // Everything was given back.
    let again = breaker.admit(true).await;
    assert!(again.is_ok());
}

#[tokio::test]
async fn http2_requests_are_bounded_by_max_requests_alone() {
    let breaker = CircuitBreaker::new(limits(1, 0, 2));
    let first = breaker.admit(false).await.unwrap();
    let second = breaker.admit(false).await.unwrap();
    assert_eq!(
        breaker.admit(false).await.map(drop),
        Err(Overflow::MaxRequests)
    );
    drop(first);
    let third = breaker.admit(false).await;
    assert!(third.is_ok());
    drop(second);
}

#[tokio::test]
async fn a_zero_pending_limit_overflows_as_soon_as_connections_are_taken() {
    let breaker = CircuitBreaker::new(limits(1, 0, 100));
    let _first = breaker.admit(true).await.unwrap();
    assert_eq!(
        breaker.admit(true).await.map(drop),
        Err(Overflow::MaxPendingRequests)
    );
}

#[test]
fn retries_are_bounded_while_in_progress() {
    let breaker = CircuitBreaker::new(limits(1, 1, 1));
    let retry = breaker.retry();
    assert!(retry.is_some());
    assert!(breaker.retry().is_none());
    drop(retry);
    assert!(breaker.retry().is_some());
}
