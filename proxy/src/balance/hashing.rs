//! Consistent hashing over a priority level: Envoy's ring hash and Maglev.
//!
//! Both lay the level's endpoints out once — when a level is first picked from with a given
//! configuration — and then map a request's hash to an endpoint with one lookup. A request
//! without a hash gets a random one, as in Envoy, so it lands on a weighted-random endpoint.
//! Endpoints are placed by the XXH64 of their address (`ip:port`), exactly as Envoy places
//! them, so that the same key picks the same endpoint in both proxies.

use std::sync::Arc;

use super::{endpoint::Endpoint, xxhash::xxh64};

/// Envoy's `ring_hash_lb_config.minimum_ring_size` default.
pub const DEFAULT_MIN_RING_SIZE: u64 = 1024;
/// Envoy's `ring_hash_lb_config.maximum_ring_size` default, and the largest either bound may be.
pub const MAX_RING_SIZE: u64 = 8 * 1024 * 1024;
/// Envoy's `maglev_lb_config.table_size` default.
pub const DEFAULT_MAGLEV_TABLE_SIZE: u64 = 65537;
/// Envoy's upper bound for a Maglev table.
pub const MAX_MAGLEV_TABLE_SIZE: u64 = 5_000_011;

/// `RING_HASH`'s `ring_hash_lb_config` (its hash function is XXH64, Envoy's default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingHashConfig {
    /// The ring has at least this many points (more when weights need them).
    pub minimum_ring_size: u64,
    /// And at most this many.
    pub maximum_ring_size: u64,
}

/// `MAGLEV`'s `maglev_lb_config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaglevConfig {
    /// The lookup table's size, a prime.
    pub table_size: u64,
}

/// A level's endpoints laid out for hash lookups.
#[derive(Debug)]
pub(super) enum HashTable {
    /// Sorted `(point, endpoint index)`: a hash goes to the first point at or after it.
    Ring(Vec<(u64, u32)>),
    /// `table_size` endpoint indices: a hash goes to `table[hash % table_size]`.
    Maglev(Vec<u32>),
}

// === impl RingHashConfig ===

impl Default for RingHashConfig {
    fn default() -> Self {
        Self {
            minimum_ring_size: DEFAULT_MIN_RING_SIZE,
            maximum_ring_size: MAX_RING_SIZE,
        }
    }
}

// === impl MaglevConfig ===

impl Default for MaglevConfig {
    fn default() -> Self {
        Self {
            table_size: DEFAULT_MAGLEV_TABLE_SIZE,
        }
    }
}

// === impl HashTable ===

impl HashTable {
    /// Envoy's ring: each endpoint gets a share of the points proportional to its weight, at
    /// least `minimum_ring_size` points in all (scaled so that the lightest endpoint gets a
    /// whole number of them) and at most `maximum_ring_size`. Point `i` of an endpoint is the
    /// XXH64 of `"<ip:port>_<i>"`.
    pub(super) fn ring(endpoints: &[Arc<Endpoint>], config: RingHashConfig) -> Self {
        let total: f64 = endpoints.iter().map(|e| f64::from(e.weight)).sum();
        let min_weight = endpoints
            .iter()
            .map(|e| f64::from(e.weight) / total)
            .fold(1.0, f64::min);
        let scale = ((min_weight * config.minimum_ring_size as f64).ceil() / min_weight)
            .min(config.maximum_ring_size as f64);
        let mut ring = Vec::with_capacity(scale.ceil() as usize);
        let mut target = 0.0;
        let mut placed = 0u64;
        for (index, endpoint) in endpoints.iter().enumerate() {
            let address = endpoint.address.to_string();
            target += scale * f64::from(endpoint.weight) / total;
            let mut i = 0u64;
            while (placed as f64) < target {
                let key = format!("{address}_{i}");
                ring.push((xxh64(key.as_bytes(), 0), index as u32));
                i += 1;
                placed += 1;
            }
        }
        ring.sort_unstable();
        Self::Ring(ring)
    }

    /// Maglev's lookup table: each endpoint walks its own permutation of the slots (offset and
    /// skip from two seeded hashes of its address) and takes the next free slot in turn;
    /// an endpoint of half the heaviest weight takes a turn every second round.
    pub(super) fn maglev(endpoints: &[Arc<Endpoint>], config: MaglevConfig) -> Self {
        let size = config.table_size;
        struct Builder {
            offset: u64,
            skip: u64,
            weight: u64,
            target: u64,
            next: u64,
        }
        let mut builders: Vec<Builder> = endpoints
            .iter()
            .map(|e| {
                let address = e.address.to_string();
                Builder {
                    offset: xxh64(address.as_bytes(), 0) % size,
                    skip: xxh64(address.as_bytes(), 1) % (size - 1) + 1,
                    weight: u64::from(e.weight),
                    target: 0,
                    next: 0,
                }
            })
            .collect();
        let max_weight = builders.iter().map(|b| b.weight).max().unwrap_or(1);
        let mut table = vec![u32::MAX; size as usize];
        let mut filled = 0u64;
        // Each round fills at least one slot (the heaviest endpoint always takes its turn),
        // so this ends after at most `size` rounds.
        let mut round = 1u64;
        while filled < size && !builders.is_empty() {
            for (index, b) in builders.iter_mut().enumerate() {
                if filled == size {
                    break;
                }
                if round * b.weight < b.target {
                    continue;
                }
                b.target += max_weight;
                let mut slot = (b.offset + b.skip * b.next) % size;
                while table[slot as usize] != u32::MAX {
                    b.next += 1;
                    slot = (b.offset + b.skip * b.next) % size;
                }
                table[slot as usize] = index as u32;
                b.next += 1;
                filled += 1;
            }
            round += 1;
        }
        Self::Maglev(table)
    }

    /// The index, in the level, of the endpoint `hash` maps to. The table is never empty: levels
    /// have at least one endpoint.
    pub(super) fn lookup(&self, hash: u64) -> usize {
        match self {
            Self::Ring(ring) => {
                let at = ring.partition_point(|&(point, _)| point < hash);
                let (_, index) = ring
                    .get(at)
                    .or_else(|| ring.first())
                    .copied()
                    .unwrap_or((0, 0));
                index as usize
            }
            Self::Maglev(table) => {
                let slot = hash % table.len().max(1) as u64;
                table.get(slot as usize).copied().unwrap_or(0) as usize
            }
        }
    }
}

/// Whether `n` is prime (Maglev table sizes must be, for every skip to visit every slot).
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3u64;
    while d.saturating_mul(d) <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

#[cfg(test)]
mod tests;
