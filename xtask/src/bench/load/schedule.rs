//! The open-loop schedule: when each request should leave, and from when its latency counts.
//!
//! A closed-loop generator waits for each answer before sending the next request, so a server
//! that stalls for 50 ms also stops the generator for 50 ms: the requests that would have
//! arrived meanwhile are never sent and never measured ("coordinated omission"), and the stall
//! hides in one sample. An open-loop generator fixes when every request is due before the run
//! starts, and measures a request held back by a slow answer from when it was due.

use std::time::Duration;

use tokio::time::Instant;

/// The send times of an open-loop run at a constant rate, spread over `connections`
/// connections round-robin: request `i` is due at `i / rate` seconds into the run and is sent
/// on connection `i % connections`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Requests per second over all connections.
    pub rate: u32,
    /// How many connections share the rate.
    pub connections: usize,
    /// How many requests the run sends in all.
    pub total: u64,
}

// === impl Schedule ===

impl Schedule {
    /// When request `index` is due, from the start of the run.
    pub fn offset(&self, index: u64) -> Duration {
        let nanos = u128::from(index) * 1_000_000_000 / u128::from(self.rate.max(1));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The requests connection `connection` sends, in order.
    pub fn requests_of(&self, connection: usize) -> impl Iterator<Item = u64> + use<> {
        let step = self.connections.max(1);
        (connection as u64..self.total).step_by(step)
    }
}

/// From when the latency of a request counts.
///
/// A request whose connection was still busy with an earlier request when it fell due was
/// held back by the system under test, so its latency counts from when it was due: that is
/// what keeps a stall visible. A request whose connection was idle when it fell due left as
/// soon as the generator's timer fired; the timer's lateness (tokio's timer ticks in
/// milliseconds) belongs to the generator, not to the system, so the latency counts from when
/// the request actually left.
pub fn measured_from(due: Instant, previous_answered: Option<Instant>, sent: Instant) -> Instant {
    match previous_answered {
        Some(answered) if answered > due => due,
        _ => sent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_spread_round_robin_at_the_rate() {
        let schedule = Schedule {
            rate: 4000,
            connections: 3,
            total: 8,
        };
        assert_eq!(schedule.requests_of(0).collect::<Vec<_>>(), [0, 3, 6]);
        assert_eq!(schedule.requests_of(1).collect::<Vec<_>>(), [1, 4, 7]);
        assert_eq!(schedule.requests_of(2).collect::<Vec<_>>(), [2, 5]);
        assert_eq!(schedule.offset(0), Duration::ZERO);
        assert_eq!(schedule.offset(1), Duration::from_micros(250));
        assert_eq!(schedule.offset(7), Duration::from_micros(1750));
        assert_eq!(schedule.offset(4000), Duration::from_secs(1));
    }

    #[test]
    fn a_rate_that_does_not_divide_a_second_rounds_down_to_the_nanosecond() {
        let schedule = Schedule {
            rate: 3,
            connections: 1,
            total: 4,
        };
        assert_eq!(schedule.offset(1), Duration::from_nanos(333_333_333));
        assert_eq!(schedule.offset(3), Duration::from_secs(1));
    }

    #[test]
    fn latency_counts_from_the_due_time_only_when_held_back() {
        let start = Instant::now();
        let due = start + Duration::from_millis(10);
        let sent = start + Duration::from_millis(30);
        // The connection answered the previous request at 30 ms, after this one was due.
        let held_back = measured_from(due, Some(start + Duration::from_millis(30)), sent);
        assert_eq!(held_back, due);
        // The connection was idle from 5 ms: the 20 ms are the generator's own lateness.
        let idle = measured_from(due, Some(start + Duration::from_millis(5)), sent);
        assert_eq!(idle, sent);
        // The first request of a connection has no previous answer.
        assert_eq!(measured_from(due, None, sent), sent);
    }
}
