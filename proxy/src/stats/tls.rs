//! Downstream TLS handshakes that failed (no or a refused client certificate, no common
//! version or cipher, a client that gave up…), by listener:
//! `mesh_proxy_downstream_tls_handshake_failures_total{listener}`. Rare, so the counter is
//! looked up when one happens rather than cached.

use metrics::Label;

use super::{Stats, names};

impl Stats {
    /// Counts a failed TLS handshake on `listener`.
    pub fn downstream_tls_handshake_failed(&self, listener: &str) {
        let labels = [Label::new("listener", listener.to_owned())];
        self.counter(names::DOWNSTREAM_TLS_HANDSHAKE_FAILURES, &labels)
            .increment(1);
    }
}
