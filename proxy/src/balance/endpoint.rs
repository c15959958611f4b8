//! One upstream endpoint, and the in-flight request count that least-request balancing reads.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

/// An endpoint of a cluster, as compiled from EDS.
#[derive(Debug)]
pub struct Endpoint {
    /// Where to connect.
    pub address: SocketAddr,
    /// The endpoint's hostname, if EDS gave one (used by `auto_host_rewrite`).
    pub hostname: Option<String>,
    /// Its load-balancing weight, at least 1.
    pub weight: u32,
    /// Its health as EDS reported it.
    pub health: Health,
    /// Its priority level: 0 is preferred, higher levels take over when lower ones have no
    /// healthy endpoint.
    pub priority: u32,
    /// Shared with the endpoint's successors in later endpoint sets, so that an EDS update does
    /// not forget the requests already under way.
    in_flight: Arc<AtomicUsize>,
}

/// Envoy's `HealthStatus` as EDS gave it. Only `HEALTHY` and `UNKNOWN` endpoints are
/// available ([`Endpoint::is_available`]); the other four are kept apart so that the admin's
/// `/clusters` shows each as Envoy does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// `HEALTHY`.
    Healthy,
    /// `UNKNOWN`: treated as healthy, as Envoy does.
    Unknown,
    /// `UNHEALTHY`.
    Unhealthy,
    /// `DRAINING`.
    Draining,
    /// `TIMEOUT`.
    Timeout,
    /// `DEGRADED`: unavailable like the others, mesh-proxy having no degraded tier.
    Degraded,
}

/// A request counted against an endpoint until this guard is dropped.
#[derive(Debug)]
#[must_use = "the request stops being counted as soon as the guard is dropped"]
pub struct InFlight(Arc<AtomicUsize>);

// === impl Endpoint ===

impl Endpoint {
    pub(super) fn new(
        address: SocketAddr,
        hostname: Option<String>,
        weight: u32,
        health: Health,
        priority: u32,
        in_flight: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            address,
            hostname,
            weight,
            health,
            priority,
            in_flight,
        }
    }

    /// Whether the balancers may pick this endpoint.
    pub fn is_available(&self) -> bool {
        matches!(self.health, Health::Healthy | Health::Unknown)
    }

    /// Requests currently under way to this endpoint.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Counts a request to this endpoint until the returned guard is dropped.
    pub fn start_request(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.in_flight.clone())
    }

    pub(super) fn counter(&self) -> &Arc<AtomicUsize> {
        &self.in_flight
    }
}

// === impl InFlight ===

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
