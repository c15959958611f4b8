//! The ways to pick an endpoint from a priority level, all honouring weights.

use std::sync::Arc;

use rand::Rng;

use super::{
    endpoint::Endpoint,
    hashing::{HashTable, MaglevConfig, RingHashConfig},
    level::Level,
};

/// A load-balancing algorithm (Envoy's `ROUND_ROBIN`, `RANDOM`, `LEAST_REQUEST`, `RING_HASH`,
/// `MAGLEV`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Algorithm {
    /// Weighted round robin. Lock-free: the round-robin position is an atomic counter, and
    /// position `n` maps to weight point `n * stride mod total` with `stride` coprime with the
    /// total weight. Every cycle of `total` picks therefore gives each endpoint exactly its
    /// weight in picks, and a heavy endpoint's picks are spread through the cycle rather than
    /// bunched together — the property smooth weighted round robin is chosen for.
    RoundRobin,
    /// Weighted random.
    Random,
    /// Power of two choices: two weighted-random candidates, the one with fewer requests in
    /// flight per unit of weight wins. The default, as in Istio.
    #[default]
    LeastRequest,
    /// Consistent hashing on a ring of points (Envoy's ketama-style ring).
    RingHash(RingHashConfig),
    /// Consistent hashing with Maglev's lookup table.
    Maglev(MaglevConfig),
}

// === impl Algorithm ===

impl Algorithm {
    /// Picks from a non-empty `level`. `hash` is the request's hash, if its route computed one;
    /// only the hashing algorithms read it, and they use a random one without it, as Envoy does.
    pub(super) fn pick<'l, R: Rng + ?Sized>(
        self,
        level: &'l Level,
        hash: Option<u64>,
        rng: &mut R,
    ) -> &'l Arc<Endpoint> {
        match self {
            Self::RoundRobin => round_robin(level),
            Self::Random => random(level, rng),
            Self::LeastRequest => least_request(level, rng),
            Self::RingHash(config) => {
                let hash = hash.unwrap_or_else(|| rng.random());
                level.hashed(self, hash, |e| HashTable::ring(e, config))
            }
            Self::Maglev(config) => {
                let hash = hash.unwrap_or_else(|| rng.random());
                level.hashed(self, hash, |e| HashTable::maglev(e, config))
            }
        }
    }
}

fn round_robin(level: &Level) -> &Arc<Endpoint> {
    let total = level.total();
    let position = level.advance() % total;
    // 128-bit division is several times slower than 64-bit; it is only needed for weight sums
    // beyond 2^32, which a mesh does not produce in practice.
    let point = match position.checked_mul(level.stride) {
        Some(product) => product % total,
        None => (u128::from(position) * u128::from(level.stride) % u128::from(total)) as u64,
    };
    level.at_point(point)
}

fn random<'l, R: Rng + ?Sized>(level: &'l Level, rng: &mut R) -> &'l Arc<Endpoint> {
    level.at_point(rng.random_range(0..level.total()))
}

fn least_request<'l, R: Rng + ?Sized>(level: &'l Level, rng: &mut R) -> &'l Arc<Endpoint> {
    let a = random(level, rng);
    if level.endpoints.len() == 1 {
        return a;
    }
    let b = random(level, rng);
    // Compare (in_flight + 1) / weight without division: fewer requests per unit of weight wins,
    // and the `+ 1` lets weights decide between idle endpoints.
    let load =
        |e: &Endpoint, other: &Endpoint| (e.in_flight() as u128 + 1) * u128::from(other.weight);
    if load(b, a) < load(a, b) { b } else { a }
}
