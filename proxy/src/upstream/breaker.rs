//! Envoy's circuit breakers for one cluster: bounds on connections, pending requests, active
//! requests and concurrent retries, past which a request fails fast with 503 `UO` instead of
//! piling onto an upstream that is already struggling.
//!
//! An HTTP/1.1 connection carries one request at a time, so a request holds a connection slot
//! from when it is sent until its response body ends; when every slot is taken it waits as a
//! pending request, and when `max_pending_requests` already wait it overflows. HTTP/2
//! multiplexes, so only `max_requests` bounds it. Counts are per compiled cluster: a cluster
//! updated by CDS starts counting afresh, as a new Envoy cluster does, while the requests it
//! admitted finish under the old counts.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Envoy's default thresholds (`envoy.config.cluster.v3.CircuitBreakers.Thresholds`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
/// Envoy's default `max_pending_requests`.
pub const DEFAULT_MAX_PENDING_REQUESTS: u32 = 1024;
/// Envoy's default `max_requests`.
pub const DEFAULT_MAX_REQUESTS: u32 = 1024;
/// Envoy's default `max_retries`.
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// The limits of the default priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    pub max_connections: u32,
    pub max_pending_requests: u32,
    pub max_requests: u32,
    pub max_retries: u32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_pending_requests: DEFAULT_MAX_PENDING_REQUESTS,
            max_requests: DEFAULT_MAX_REQUESTS,
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }
}

/// The threshold that turned a connection, a request or a retry away (`UO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Overflow {
    /// A TCP proxy connection found `max_connections` reached (Envoy's
    /// `upstream_cx_overflow`).
    #[error("circuit breaker overflow: max_connections")]
    MaxConnections,
    /// An HTTP/1.1 request found every connection slot taken and `max_pending_requests`
    /// requests already waiting (Envoy's `upstream_rq_pending_overflow`).
    #[error("circuit breaker overflow: max_pending_requests")]
    MaxPendingRequests,
    /// A request found `max_requests` requests active (Envoy counts it in
    /// `upstream_rq_pending_overflow` too).
    #[error("circuit breaker overflow: max_requests")]
    MaxRequests,
    /// A retry was not made because `max_retries` retries were in progress; the response it
    /// would have replaced stands (Envoy's `upstream_rq_retry_overflow`).
    #[error("circuit breaker overflow: max_retries")]
    MaxRetries,
}

/// The live counts of one cluster against its thresholds.
#[derive(Debug)]
pub struct CircuitBreaker {
    thresholds: Thresholds,
    /// HTTP/1.1 connection slots.
    connections: Arc<Semaphore>,
    pending: Arc<AtomicU32>,
    requests: Arc<AtomicU32>,
    retries: Arc<AtomicU32>,
}

/// What an admitted request holds until its response ends; dropping it gives everything back.
#[derive(Debug)]
pub struct Admission {
    _request: Counted,
    _connection: Option<OwnedSemaphorePermit>,
}

/// One TCP proxy connection holding a `max_connections` slot; dropping it gives the slot back.
#[derive(Debug)]
pub struct ConnectionPermit {
    _slot: OwnedSemaphorePermit,
}

/// One retry in progress; dropping it ends the retry.
#[derive(Debug)]
pub struct RetryPermit {
    _count: Counted,
}

/// One unit of a counter, given back on drop.
#[derive(Debug)]
struct Counted(Arc<AtomicU32>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

// === impl CircuitBreaker ===

impl CircuitBreaker {
    /// A breaker with `thresholds` and nothing counted yet.
    pub fn new(thresholds: Thresholds) -> Self {
        // The semaphore's limit is far above any connection count a proxy can hold.
        let slots = usize::try_from(thresholds.max_connections)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        Self {
            thresholds,
            connections: Arc::new(Semaphore::new(slots)),
            pending: Arc::default(),
            requests: Arc::default(),
            retries: Arc::default(),
        }
    }

    /// The thresholds it enforces.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Admits one request, or refuses it with the threshold it would pass. An HTTP/1.1
    /// request (`needs_connection`) waits for a connection slot when all are taken, unless
    /// `max_pending_requests` requests already wait.
    pub async fn admit(&self, needs_connection: bool) -> Result<Admission, Overflow> {
        // A pending request is not active yet: it counts against `max_requests` once it has
        // a connection, as in Envoy.
        let connection = if needs_connection {
            Some(self.connection_slot().await?)
        } else {
            None
        };
        let request =
            take(&self.requests, self.thresholds.max_requests).ok_or(Overflow::MaxRequests)?;
        Ok(Admission {
            _request: request,
            _connection: connection,
        })
    }

    /// A slot for one TCP proxy connection, taken from the same `max_connections` slots as
    /// HTTP/1.1 requests, or `max_connections` overflow at once: Envoy's TCP proxy does not
    /// wait for a connection, it closes the downstream one (`UO`).
    pub fn connection(&self) -> Result<ConnectionPermit, Overflow> {
        Arc::clone(&self.connections)
            .try_acquire_owned()
            .map(|slot| ConnectionPermit { _slot: slot })
            .map_err(|_| Overflow::MaxConnections)
    }

    /// A retry may start only while fewer than `max_retries` are in progress.
    pub fn retry(&self) -> Option<RetryPermit> {
        take(&self.retries, self.thresholds.max_retries).map(|count| RetryPermit { _count: count })
    }

    async fn connection_slot(&self) -> Result<OwnedSemaphorePermit, Overflow> {
        if let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() {
            return Ok(permit);
        }
        let _pending = take(&self.pending, self.thresholds.max_pending_requests)
            .ok_or(Overflow::MaxPendingRequests)?;
        // The semaphore is never closed, so acquiring only ends with a permit; the route
        // timeout around the whole request bounds the wait.
        Arc::clone(&self.connections)
            .acquire_owned()
            .await
            .map_err(|_| Overflow::MaxConnections)
    }
}

impl Default for CircuitBreaker {
    fn default() -> Self {
        Self::new(Thresholds::default())
    }
}

// === impl Overflow ===

impl Overflow {
    /// Every threshold, in the order of Envoy's `Thresholds` fields.
    pub const ALL: [Self; 4] = [
        Self::MaxConnections,
        Self::MaxPendingRequests,
        Self::MaxRequests,
        Self::MaxRetries,
    ];

    /// The threshold's field name in Envoy's `Thresholds`, as metrics label it.
    pub fn threshold(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::MaxPendingRequests => "max_pending_requests",
            Self::MaxRequests => "max_requests",
            Self::MaxRetries => "max_retries",
        }
    }
}

/// Counts one more in `counter` unless it already holds `limit`.
fn take(counter: &Arc<AtomicU32>, limit: u32) -> Option<Counted> {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .ok()
        .map(|_| Counted(Arc::clone(counter)))
}

#[cfg(test)]
mod tests;
