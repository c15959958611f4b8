//! One priority level's pickable endpoints, laid out for weighted picks.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use arc_swap::ArcSwapOption;

use super::{Algorithm, endpoint::Endpoint, hashing::HashTable};

/// The available endpoints of one priority level.
#[derive(Debug)]
pub(super) struct Level {
    pub(super) priority: u32,
    pub(super) endpoints: Vec<Arc<Endpoint>>,
    /// Running sums of the weights: endpoint `i` owns the points `cumulative[i-1]..cumulative[i]`.
    cumulative: Vec<u64>,
    /// When every weight is equal, picks index directly instead of searching.
    uniform: bool,
    /// Coprime with the total weight, so that `n * stride % total` visits every point once per
    /// cycle while spreading each endpoint's points apart (see `round_robin`).
    pub(super) stride: u64,
    /// The round-robin position.
    pub(super) next: AtomicU64,
    /// The ring or Maglev table, built on the first hashing pick and kept with the algorithm
    /// (and so the sizes) it was built for: a new endpoint set or a new cluster configuration
    /// builds the next one, a request never does.
    table: ArcSwapOption<(Algorithm, HashTable)>,
}

// === impl Level ===

impl Level {
    /// A level of `endpoints`, all available and of the same priority.
    pub(super) fn new(priority: u32, endpoints: Vec<Arc<Endpoint>>) -> Self {
        let mut cumulative = Vec::with_capacity(endpoints.len());
        let mut total = 0u64;
        for endpoint in &endpoints {
            total += u64::from(endpoint.weight);
            cumulative.push(total);
        }
        let uniform = endpoints.windows(2).all(|w| w[0].weight == w[1].weight);
        Self {
            priority,
            endpoints,
            cumulative,
            uniform,
            stride: stride_for(total),
            next: AtomicU64::new(0),
            table: ArcSwapOption::empty(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.endpoints.is_empty()
    }

    /// The sum of the weights.
    pub(super) fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The endpoint owning `point` (below [`total`](Self::total)).
    pub(super) fn at_point(&self, point: u64) -> &Arc<Endpoint> {
        let index = if self.uniform {
            // Every weight is `total / len`.
            let weight = self.total() / self.endpoints.len() as u64;
            (point / weight.max(1)) as usize
        } else {
            self.cumulative.partition_point(|&sum| sum <= point)
        };
        &self.endpoints[index.min(self.endpoints.len() - 1)]
    }

    /// The endpoint `hash` maps to under a hashing `algorithm`.
    /// `build` lays the table out when there is none yet for this algorithm.
    pub(super) fn hashed(
        &self,
        algorithm: Algorithm,
        hash: u64,
        build: impl FnOnce(&[Arc<Endpoint>]) -> HashTable,
    ) -> &Arc<Endpoint> {
        let cached = self.table.load_full().filter(|t| t.0 == algorithm);
        let table = match cached {
            Some(table) => table,
            None => {
                let table = Arc::new((algorithm, build(&self.endpoints)));
                self.table.store(Some(Arc::clone(&table)));
                table
            }
        };
        let index = table.1.lookup(hash);
        &self.endpoints[index.min(self.endpoints.len() - 1)]
    }

    /// Advances the round-robin position and returns the previous one.
    pub(super) fn advance(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }
}

/// A step near the golden ratio of `total` that is coprime with it.
fn stride_for(total: u64) -> u64 {
    if total <= 2 {
        return 1;
    }
    let mut stride = ((total as f64) * 0.618_033_988_75) as u64;
    stride = stride.clamp(1, total - 1);
    while gcd(stride, total) != 1 {
        stride += 1;
    }
    stride
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_coprime_with_the_total() {
        assert_eq!(stride_for(1), 1);
        assert_eq!(stride_for(2), 1);
        assert_eq!(stride_for(7), 4);
        assert_eq!(stride_for(10), 7);
        for total in 3..500 {
            assert_eq!(gcd(stride_for(total), total), 1, "total {total}");
        }
    }
}
