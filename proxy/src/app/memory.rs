//! Giving the allocator's free memory back to the kernel once a configuration is applied.
//!
//! Reading a configuration peaks far above what it leaves live (a 1 000-service bootstrap read
//! through JSON peaks at tens of MiB; what stays is a few), and glibc's malloc keeps the freed
//! pages resident unless asked with `malloc_trim`. The library forbids unsafe code, so the
//! binary, which may call into the C library, passes that call in.

use std::{fmt, sync::Arc, time::Duration};

use tokio::{sync::watch, time::Instant};

/// How long the configuration must stay unchanged before the memory is released: one xDS update
/// comes as several responses (clusters, endpoints, listeners, routes), and the connections of
/// the snapshot before hold it until they next look.
pub const SETTLE: Duration = Duration::from_secs(1);

/// The longest a stream of changes, each within [`SETTLE`] of the last, defers the release.
pub const MAX_DEFER: Duration = Duration::from_secs(10);

/// Hands the memory the allocator holds free back to the kernel.
#[derive(Clone)]
pub struct MemoryRelease(Arc<dyn Fn() + Send + Sync>);

// === impl MemoryRelease ===

impl MemoryRelease {
    /// A release that calls `release`.
    pub fn new(release: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Arc::new(release))
    }

    /// Releases now.
    pub fn release(&self) {
        (self.0)();
    }

    /// Releases after each change `changes` announces, once the configuration has been quiet
    /// for `settle` (or changing for `max_defer`); returns when the store is gone.
    pub async fn after_changes(
        self,
        mut changes: watch::Receiver<u64>,
        settle: Duration,
        max_defer: Duration,
    ) {
        while changes.changed().await.is_ok() {
            let deadline = Instant::now() + max_defer;
            loop {
                let quiet_until = (Instant::now() + settle).min(deadline);
                match tokio::time::timeout_at(quiet_until, changes.changed()).await {
                    // Changed again: wait for the configuration to settle, up to `deadline`.
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => break,
                }
            }
            self.release();
        }
    }
}

impl fmt::Debug for MemoryRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryRelease")
    }
}

#[cfg(test)]
mod tests;
