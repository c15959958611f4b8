//! The control plane's Prometheus metrics, all named `mesh_controlplane_*`.
//!
//! Each control plane owns its recorder rather than installing a global one, so that several
//! can run in one process (the tests do) without sharing counters. What other components
//! already count — the xDS server's pushes and NACKs, the store's errors — is copied into the
//! recorder when `/metrics` is scraped rather than counted twice; the rest is recorded as it
//! happens.

use std::{collections::BTreeSet, fmt, sync::Arc, time::Duration};

use mesh_common::load::LoadError;
use mesh_xds::ResourceType;
use metrics::{counter, gauge, histogram, with_local_recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

use crate::xds::StatusSnapshot;

/// Proxies connected now, by ADS variant (`type` is `sotw` or `delta`).
pub const CONNECTED_PROXIES: &str = "mesh_controlplane_xds_connected_proxies";
/// Responses sent, by `type_url`.
pub const PUSHES: &str = "mesh_controlplane_xds_pushes_total";
/// Responses that could not be generated, by `type_url`: the proxy kept its config.
pub const PUSH_ERRORS: &str = "mesh_controlplane_xds_push_errors_total";
/// Config changes seen by proxy streams, by how far each reached the stream's proxy (`scope`):
/// `all` (every type regenerated), `endpoints` (load assignments alone), `skipped` (nothing).
pub const PROXY_PUSHES: &str = "mesh_controlplane_xds_proxy_pushes_total";
/// Model snapshots, by the proxies their change reaches (`scope`): `all` (every proxy),
/// `scoped` (some proxies or types), `none` (nothing proxies are configured from changed).
pub const CONFIG_CHANGES: &str = "mesh_controlplane_config_changes_total";
/// Responses the proxies rejected, by `type_url`.
pub const NACKS: &str = "mesh_controlplane_xds_nacks_total";
/// Config files with at least one error in the latest read.
pub const CONFIG_ERRORS: &str = "mesh_controlplane_config_errors";
/// The version of the model snapshot the proxies are served from.
pub const SNAPSHOT_VERSION: &str = "mesh_controlplane_snapshot_version";
/// How long translating one proxy's configuration took, in seconds.
pub const TRANSLATION_DURATION: &str = "mesh_controlplane_translation_duration_seconds";
/// Config files read since the control plane started, the first read of the directories
/// included; absent when the mesh is read from a cluster.
pub const FILES_PARSED: &str = "mesh_controlplane_config_files_parsed_total";

/// Sidecar outbound sides made, by what was translated (`part`): `whole` (clusters, listeners,
/// routes and load assignments) or `endpoints` (load assignments alone, the rest kept).
pub const OUTBOUND_TRANSLATIONS: &str = "mesh_controlplane_outbound_translations_total";

/// The `part` of an outbound side translated whole.
pub const OUTBOUND_WHOLE: &str = "whole";
/// The `part` of an outbound side of which only the load assignments were translated.
pub const OUTBOUND_ENDPOINTS: &str = "endpoints";

/// Translation takes microseconds for a small mesh and can reach seconds for a large one.
const TRANSLATION_BUCKETS: &[f64] = &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

/// The recorder of one control plane.
#[derive(Debug)]
pub struct Metrics {
    recorder: PrometheusRecorder,
}

/// What the scrape copies in: the state of the other components at that moment.
#[derive(Debug)]
pub struct Observed<'a> {
    pub status: &'a StatusSnapshot,
    pub load_errors: &'a [LoadError],
    pub snapshot_version: u64,
}

/// How a scrape reads the config store's count of parsed files: `None` from a store that reads
/// no files. The store keeps the count; the scrape copies it in.
#[derive(Clone, Default)]
pub struct FilesParsed(Option<Arc<dyn Fn() -> Option<u64> + Send + Sync>>);

// === impl Metrics ===

impl Metrics {
    /// An empty recorder.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full(TRANSLATION_DURATION.to_string()),
                TRANSLATION_BUCKETS,
            )
            // The buckets are a non-empty constant: this cannot fail, and a summary is still a
            // valid rendering if it did.
            .unwrap_or_else(|_| PrometheusBuilder::new());
        Self {
            recorder: builder.build_recorder(),
        }
    }

    /// Records one translation.
    pub fn translated(&self, took: Duration) {
        with_local_recorder(&self.recorder, || {
            histogram!(TRANSLATION_DURATION).record(took.as_secs_f64());
        });
    }

    /// Counts an outbound side made: `whole` or `endpoints`.
    pub fn outbound_translated(&self, part: &'static str) {
        with_local_recorder(&self.recorder, || {
            counter!(OUTBOUND_TRANSLATIONS, "part" => part).increment(1);
        });
    }

    /// Counts a new snapshot by its scope: `all`, `scoped` or `none`.
    pub fn config_changed(&self, scope: &'static str) {
        with_local_recorder(&self.recorder, || {
            counter!(CONFIG_CHANGES, "scope" => scope).increment(1);
        });
    }

    /// Counts a response that could not be generated.
    pub fn push_failed(&self, kind: ResourceType) {
        with_local_recorder(&self.recorder, || {
            counter!(PUSH_ERRORS, "type_url" => kind.type_url()).increment(1);
        });
    }

    /// Copies in the store's count of parsed config files.
    pub fn files_parsed(&self, total: u64) {
        with_local_recorder(&self.recorder, || {
            counter!(FILES_PARSED).absolute(total);
        });
    }

    /// The Prometheus text exposition, with `observed` copied in first.
    pub fn render(&self, observed: &Observed<'_>) -> String {
        with_local_recorder(&self.recorder, || {
            for protocol in ["sotw", "delta"] {
                let connected = observed
                    .status
                    .proxies
                    .iter()
                    .filter(|proxy| proxy.protocol == protocol)
                    .count();
                gauge!(CONNECTED_PROXIES, "type" => protocol).set(connected as f64);
            }
            for kind in ResourceType::ALL {
                let name = kind.short_name();
                let type_url = kind.type_url();
                let pushes = observed.status.pushes_total.get(name).copied();
                counter!(PUSHES, "type_url" => type_url).absolute(pushes.unwrap_or(0));
                let nacks = observed.status.nacks_total.get(name).copied();
                counter!(NACKS, "type_url" => type_url).absolute(nacks.unwrap_or(0));
                // Present from the start, so that a rate over it has a baseline.
                counter!(PUSH_ERRORS, "type_url" => type_url).increment(0);
            }
            for (scope, count) in &observed.status.reached_total {
                counter!(PROXY_PUSHES, "scope" => *scope).absolute(*count);
            }
            for scope in ["all", "scoped", "none"] {
                // Present from the start, so that a rate over it has a baseline.
                counter!(CONFIG_CHANGES, "scope" => scope).increment(0);
            }
            for part in [OUTBOUND_WHOLE, OUTBOUND_ENDPOINTS] {
                counter!(OUTBOUND_TRANSLATIONS, "part" => part).increment(0);
            }
            let files: BTreeSet<_> = observed
                .load_errors
                .iter()
                .map(|error| &error.origin.file)
                .collect();
            gauge!(CONFIG_ERRORS).set(files.len() as f64);
            gauge!(SNAPSHOT_VERSION).set(observed.snapshot_version as f64);
        });
        self.recorder.handle().render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

// === impl FilesParsed ===

impl FilesParsed {
    /// Reads the count with `read`, which says `None` once there is nothing to read.
    pub fn new(read: impl Fn() -> Option<u64> + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(read)))
    }

    /// The count now, if the store reads files.
    pub fn get(&self) -> Option<u64> {
        self.0.as_ref().and_then(|read| read())
    }
}

impl fmt::Debug for FilesParsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FilesParsed").field(&self.get()).finish()
    }
}

#[cfg(test)]
mod tests;
