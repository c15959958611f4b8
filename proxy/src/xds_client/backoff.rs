//! Jittered exponential backoff between ADS reconnection attempts.

use std::time::Duration;

use rand::Rng;

/// Delays that double from `base` up to `max`, each drawn uniformly from the upper half of the
/// current step so that proxies restarted together do not reconnect in lockstep.
#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    step: Duration,
}

// === impl Backoff ===

impl Backoff {
    /// 100 ms doubling to 15 s, as the client uses.
    pub const DEFAULT: Self = Self::new(Duration::from_millis(100), Duration::from_secs(15));

    /// A backoff from `base` to `max`.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            step: base,
        }
    }

    /// The next delay.
    pub fn next_delay<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Duration {
        let step = self.step;
        self.step = step.saturating_mul(2).min(self.max);
        let half = step / 2;
        half + half.mul_f64(rng.random::<f64>())
    }

    /// Starts over after a connection that worked.
    pub fn reset(&mut self) {
        self.step = self.base;
    }
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::SmallRng};

    use super::*;

    #[test]
    fn doubles_within_jitter_up_to_the_cap_and_resets() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut backoff = Backoff::DEFAULT;
        let steps_ms = [100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000];
        for step in steps_ms {
            let delay = backoff.next_delay(&mut rng);
            let step = Duration::from_millis(step);
            assert!(
                delay >= step / 2 && delay <= step,
                "{delay:?} outside {step:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next_delay(&mut rng) <= Duration::from_millis(100));
    }
}
