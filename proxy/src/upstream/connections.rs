//! Upstream connections, counted per cluster and per endpoint for the metrics and the admin's
//! `/clusters`, with Envoy's meanings: a connection counts as active from its connect attempt
//! until its socket is dropped, and as opened (`cx_total`) once, when the attempt starts.
//!
//! Counting is exact because the count travels with the socket: the HTTP pools' connector and
//! the TCP proxy hold an [`OpenUpstream`] guard for as long as the socket lives, and its drop
//! gives the connection back, however the connection ends.

use std::{
    fmt,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use super::Overflow;
use crate::stats::cache::Cache;

/// Every cluster's connection counts. Clusters and endpoints are remembered by name and address
/// (up to the cache's bound) so that their counts survive CDS and EDS updates.
#[derive(Debug, Default)]
pub struct UpstreamConnections {
    clusters: Cache<String, ClusterConnections>,
}

/// The counts of one cluster and of each of its endpoints.
#[derive(Debug, Default)]
pub struct ClusterConnections {
    total: Counts,
    overflow: OverflowCounts,
    hosts: Cache<SocketAddr, Counts>,
}

/// What is counted for a cluster or an endpoint, read at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Connections open or being opened (Envoy's `cx_active`).
    pub active: u64,
    /// Connections opened, failed attempts included (Envoy's `cx_total`).
    pub opened: u64,
    /// Connect attempts that failed or timed out (Envoy's `cx_connect_fail`).
    pub connect_failures: u64,
    /// What the cluster's circuit breaker turned away, by threshold; always zeros for an
    /// endpoint.
    pub overflow: Overflows,
}

/// Connections, requests and retries turned away by a cluster's circuit breaker, by the
/// threshold that turned them away (see [`Overflow`] for Envoy's names of each).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overflows {
    pub max_connections: u64,
    pub max_pending_requests: u64,
    pub max_requests: u64,
    pub max_retries: u64,
}

#[derive(Debug, Default)]
struct OverflowCounts {
    max_connections: AtomicU64,
    max_pending_requests: AtomicU64,
    max_requests: AtomicU64,
    max_retries: AtomicU64,
}

#[derive(Debug, Default)]
struct Counts {
    active: AtomicU64,
    opened: AtomicU64,
    connect_failures: AtomicU64,
}

/// One upstream connection, counted as active until dropped.
pub struct OpenUpstream {
    cluster: Arc<ClusterConnections>,
    host: Arc<Counts>,
}

// === impl UpstreamConnections ===

impl UpstreamConnections {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts of the cluster named `name`.
    pub fn cluster(&self, name: &str) -> Arc<ClusterConnections> {
        self.clusters
            .get_or_insert(name, ClusterConnections::default)
    }

    /// The counts of the cluster named `name`, if it ever had a connection counted.
    pub fn find(&self, name: &str) -> Option<Arc<ClusterConnections>> {
        self.clusters.get(name)
    }

    /// Every cluster that ever had a connection counted, by name.
    pub fn clusters(&self) -> Vec<(String, ConnectionStats)> {
        let mut clusters: Vec<(String, ConnectionStats)> = self
            .clusters
            .entries()
            .into_iter()
            .map(|(name, counts)| (name, counts.stats()))
            .collect();
        clusters.sort_by(|a, b| a.0.cmp(&b.0));
        clusters
    }
}

// === impl ClusterConnections ===

impl ClusterConnections {
    /// Counts a connect attempt to `address`; the connection is active until the guard drops.
    pub fn open(self: &Arc<Self>, address: SocketAddr) -> OpenUpstream {
        let host = self.hosts.get_or_insert(&address, Counts::default);
        for counts in [&self.total, &*host] {
            counts.opened.fetch_add(1, Ordering::Relaxed);
            counts.active.fetch_add(1, Ordering::Relaxed);
        }
        OpenUpstream {
            cluster: Arc::clone(self),
            host,
        }
    }

    /// Counts a connection, request or retry turned away by the cluster's circuit breaker.
    pub fn overflowed(&self, overflow: Overflow) {
        self.overflow
            .counter(overflow)
            .fetch_add(1, Ordering::Relaxed);
    }

    /// The cluster's counts now.
    pub fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            overflow: self.overflow.load(),
            ..self.total.stats()
        }
    }

    /// The counts of the endpoint at `address` now; zeros for one never connected to.
    pub fn host(&self, address: SocketAddr) -> ConnectionStats {
        self.hosts
            .get(&address)
            .map(|counts| counts.stats())
            .unwrap_or_default()
    }
}

// === impl Counts ===

impl Counts {
    fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            active: self.active.load(Ordering::Relaxed),
            opened: self.opened.load(Ordering::Relaxed),
            connect_failures: self.connect_failures.load(Ordering::Relaxed),
            overflow: Overflows::default(),
        }
    }
}

// === impl Overflows ===

impl Overflows {
    /// The count of one threshold.
    pub fn get(&self, overflow: Overflow) -> u64 {
        match overflow {
            Overflow::MaxConnections => self.max_connections,
            Overflow::MaxPendingRequests => self.max_pending_requests,
            Overflow::MaxRequests => self.max_requests,
            Overflow::MaxRetries => self.max_retries,
        }
    }
}

// === impl OverflowCounts ===

impl OverflowCounts {
    fn counter(&self, overflow: Overflow) -> &AtomicU64 {
        match overflow {
            Overflow::MaxConnections => &self.max_connections,
            Overflow::MaxPendingRequests => &self.max_pending_requests,
            Overflow::MaxRequests => &self.max_requests,
            Overflow::MaxRetries => &self.max_retries,
        }
    }

    fn load(&self) -> Overflows {
        let load = |overflow| self.counter(overflow).load(Ordering::Relaxed);
        Overflows {
            max_connections: load(Overflow::MaxConnections),
            max_pending_requests: load(Overflow::MaxPendingRequests),
            max_requests: load(Overflow::MaxRequests),
            max_retries: load(Overflow::MaxRetries),
        }
    }
}

// === impl OpenUpstream ===

impl OpenUpstream {
    /// The attempt failed: counted as a connect failure, and no longer active.
    pub fn connect_failed(self) {
        for counts in [&self.cluster.total, &*self.host] {
            counts.connect_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for OpenUpstream {
    fn drop(&mut self) {
        for counts in [&self.cluster.total, &*self.host] {
            counts.active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for OpenUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenUpstream").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_the_guards() {
        let connections = UpstreamConnections::new();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let cluster = connections.cluster("c");
        let first = cluster.open(a);
        let second = connections.cluster("c").open(b);
        cluster.open(b).connect_failed();
        cluster.overflowed(Overflow::MaxConnections);
        for _ in 0..2 {
            cluster.overflowed(Overflow::MaxPendingRequests);
        }
        cluster.overflowed(Overflow::MaxRetries);
        let overflow = Overflows {
            max_connections: 1,
            max_pending_requests: 2,
            max_requests: 0,
            max_retries: 1,
        };
        assert_eq!(
            connections.clusters(),
            [(
                "c".to_owned(),
                ConnectionStats {
                    active: 2,
                    opened: 3,
                    connect_failures: 1,
                    overflow,
                }
            )]
        );
        assert_eq!(
            Overflow::ALL.map(|kind| overflow.get(kind)),
            [1, 2, 0, 1],
            "in the order of Overflow::ALL"
        );
        drop(first);
        assert_eq!(
            cluster.host(a),
            ConnectionStats {
                active: 0,
                opened: 1,
                connect_failures: 0,
                overflow: Overflows::default(),
            }
        );
        assert_eq!(
            cluster.host(b),
            ConnectionStats {
                active: 1,
                opened: 2,
                connect_failures: 1,
                overflow: Overflows::default(),
            }
        );
        drop(second);
        assert_eq!(cluster.stats().active, 0);
        assert_eq!(
            cluster.host("127.0.0.1:3".parse().unwrap()),
            ConnectionStats::default()
        );
    }
}
