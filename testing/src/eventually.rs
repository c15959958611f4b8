//! Waiting for a condition with bounded patience, instead of sleeping and hoping.
//!
//! Time is tokio's, so a test with `#[tokio::test(start_paused = true)]` waits for nothing: the
//! clock jumps to the next poll as soon as the runtime is idle.

use std::{fmt, future::Future, time::Duration};

use tokio::time::{self, Instant};

/// How long to keep trying, and how often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patience {
    timeout: Duration,
    interval: Duration,
}

/// What a check returns: `Ok`/`Some` ends the wait, `Err`/`None` is a failure to retry.
pub trait Outcome {
    type Value;
    type Failure: fmt::Debug;

    fn into_result(self) -> Result<Self::Value, Self::Failure>;
}

/// The failure of a check that returned `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoneYet;

/// The condition did not hold before the deadline.
#[derive(Clone, PartialEq, Eq)]
pub struct TimedOut<E> {
    /// How long the wait lasted: the whole patience.
    pub waited: Duration,
    /// How many checks were started, including one cut off by the deadline.
    pub attempts: u32,
    /// The failure of the last check that finished, or `None` if none finished in time.
    pub last_failure: Option<E>,
}

// === impl Patience ===

impl Patience {
    /// Tries for up to `timeout`, every 10 ms.
    pub const fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            interval: Duration::from_millis(10),
        }
    }

    /// Waits `interval` between the end of one check and the start of the next.
    pub const fn every(self, interval: Duration) -> Self {
        Self { interval, ..self }
    }

    pub const fn timeout(&self) -> Duration {
        self.timeout
    }

    pub const fn interval(&self) -> Duration {
        self.interval
    }

    /// Runs `check` until it succeeds or the timeout passes, and returns its value.
    ///
    /// The first check starts at once and a last one at the deadline itself (it counts if it is
    /// ready at once). A check still running at the deadline is dropped: one that hangs cannot
    /// make the test hang.
    pub async fn eventually<F, Fut, O>(self, mut check: F) -> Result<O::Value, TimedOut<O::Failure>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = O>,
        O: Outcome,
    {
        let start = Instant::now();
        let deadline = start + self.timeout;
        let mut attempts = 0;
        let mut last_failure = None;
        loop {
            attempts += 1;
            match time::timeout_at(deadline, check()).await {
                Ok(outcome) => match outcome.into_result() {
                    Ok(value) => return Ok(value),
                    Err(failure) => last_failure = Some(failure),
                },
                Err(_elapsed) => break,
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            time::sleep_until((now + self.interval).min(deadline)).await;
        }
        Err(TimedOut {
            waited: Instant::now() - start,
            attempts,
            last_failure,
        })
    }
}

impl Default for Patience {
    /// Five seconds: far longer than any in-process condition needs, short enough that a broken
    /// test fails before anyone wonders whether it hangs.
    fn default() -> Self {
        Self::new(Duration::from_secs(5))
    }
}

/// Runs `check` with the default [`Patience`] until it succeeds, and returns its value.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// let calls = AtomicU32::new(0);
/// let n = mesh_testing::eventually(|| async {
///     let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
///     if n == 3 { Ok(n) } else { Err(format!("only {n} calls")) }
/// })
/// .await
/// .unwrap();
/// assert_eq!(n, 3);
/// # }
/// ```
pub async fn eventually<F, Fut, O>(check: F) -> Result<O::Value, TimedOut<O::Failure>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = O>,
    O: Outcome,
{
    Patience::default().eventually(check).await
}

// === impl Outcome ===

impl<T, E: fmt::Debug> Outcome for Result<T, E> {
    type Value = T;
    type Failure = E;

    fn into_result(self) -> Result<T, E> {
        self
    }
}

impl<T> Outcome for Option<T> {
    type Value = T;
    type Failure = NoneYet;

    fn into_result(self) -> Result<T, NoneYet> {
        self.ok_or(NoneYet)
    }
}

// === impl TimedOut ===

impl<E: fmt::Debug> fmt::Display for TimedOut<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempts = match self.attempts {
            1 => "1 attempt".to_string(),
            n => format!("{n} attempts"),
        };
        write!(f, "still failing after {:?} ({attempts}); ", self.waited)?;
        match &self.last_failure {
            Some(failure) => write!(f, "last failure: {failure:?}"),
            None => f.write_str("no attempt finished in time"),
        }
    }
}

/// The same as `Display`, so that `.unwrap()` in a test prints the message, not a struct.
impl<E: fmt::Debug> fmt::Debug for TimedOut<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<E: fmt::Debug> std::error::Error for TimedOut<E> {}

#[cfg(test)]
mod tests;
