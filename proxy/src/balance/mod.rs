//! Load balancing over a cluster's endpoints: round robin, random, least request, ring hash and
//! Maglev, all weighted, skipping unavailable and outlier-ejected endpoints and failing over
//! between priority levels, with Envoy's panic mode when too few endpoints are left.
//!
//! Picks take the random number generator as an argument, so that callers choose their own
//! (a per-worker small RNG) and tests are deterministic. Endpoint sets are immutable; an EDS
//! update builds the next one with [`EndpointSet::update`], which keeps the in-flight counts of
//! endpoints that stay.

mod algorithm;
mod endpoint;
mod endpoint_set;
mod hashing;
mod level;
mod outlier;
mod panic;
mod xxhash;

pub use self::{
    algorithm::Algorithm,
    endpoint::{Endpoint, Health, InFlight},
    endpoint_set::EndpointSet,
    hashing::{
        DEFAULT_MAGLEV_TABLE_SIZE, DEFAULT_MIN_RING_SIZE, MAX_MAGLEV_TABLE_SIZE, MAX_RING_SIZE,
        MaglevConfig, RingHashConfig, is_prime,
    },
    outlier::{
        DEFAULT_BASE_EJECTION_TIME, DEFAULT_CONSECUTIVE_ERRORS, DEFAULT_INTERVAL,
        DEFAULT_MAX_EJECTION_PERCENT, DEFAULT_MAX_EJECTION_TIME, Outcome, OutlierConfig,
        OutlierDetector,
    },
    xxhash::xxh64,
};

/// No endpoint of the cluster can take the request (Envoy's `no healthy upstream`, response
/// flag `UH`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no healthy upstream in cluster {cluster:?}")]
pub struct NoHealthyUpstream {
    /// The cluster that has no available endpoint.
    pub cluster: String,
}

#[cfg(test)]
mod tests;
