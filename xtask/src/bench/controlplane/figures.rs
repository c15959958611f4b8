//! What the sidecars' events add up to: the figures of the initial sync and of a phase of
//! endpoint changes. Pure bookkeeping, fed one event at a time.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    time::Duration,
};

use mesh_xds::ResourceType;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::sidecar::{Event, Protocol};
use crate::bench::histogram::{Latencies, Percentiles};

/// The events of one phase, as they come.
#[derive(Debug)]
pub struct Window {
    /// The protocol of each sidecar, by index.
    protocols: Vec<Protocol>,
    /// When each change of the phase was written.
    written: HashMap<usize, Instant>,
    /// Per change: how many sidecars ACKed it, and the slowest of them.
    applied: HashMap<usize, (usize, Duration)>,
    latencies: HashMap<Protocol, Latencies>,
    traffic: HashMap<Protocol, Traffic>,
    /// Distinct endpoint versions sent: how many pushes the phase took.
    eds_versions: HashSet<String>,
    failed: BTreeMap<usize, String>,
    synced: HashSet<usize>,
}

/// Responses and their bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Responses received.
    pub responses: u64,
    /// Their encoded size, summed.
    pub bytes: u64,
}

/// The figures of one group of sidecars (one protocol, or all) in a phase of changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// `sotw`, `delta` or `all`.
    pub group: String,
    /// Sidecars in the group.
    pub proxies: usize,
    /// File write → the sidecar's ACK of the first endpoint response carrying the change, one
    /// value per sidecar and change.
    pub latency: Percentiles,
    /// Bytes of every response the group received in the phase, per change.
    pub bytes_per_change: f64,
    /// Responses the group received in the phase, per change.
    pub responses_per_change: f64,
}

/// The figures of a phase of endpoint changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// Changes written.
    pub changes: usize,
    /// Sidecar × change pairs ACKed.
    pub applied: u64,
    /// Sidecar × change pairs never ACKed before the phase's deadline.
    pub missing: u64,
    /// Per change that every sidecar ACKed: file write → the last sidecar's ACK.
    pub all_acked: Percentiles,
    /// Changes that some sidecar never ACKed.
    pub incomplete_changes: usize,
    /// Every sidecar, then each protocol.
    pub groups: Vec<Group>,
    /// Distinct endpoint versions the sidecars were sent: the pushes the phase took.
    pub eds_pushes: usize,
    /// Control-plane CPU time (user + system) per change, in milliseconds.
    pub cpu_ms_per_change: Option<f64>,
    /// The same per push (per distinct endpoint version).
    pub cpu_ms_per_push: Option<f64>,
    /// From the first write to the last ACK (or the deadline).
    pub duration_ms: u64,
}

/// The figures of the initial sync.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sync {
    /// Sidecars started.
    pub proxies: usize,
    /// Sidecars that had every type ACKed before the deadline.
    pub synced: usize,
    /// From the first connection to the last sidecar synced (or the deadline).
    pub duration_ms: u64,
    /// Every response of the sync.
    pub traffic: Traffic,
    /// Sidecars whose stream failed, with the first few errors.
    pub failed: usize,
    pub errors: Vec<String>,
}

// === impl Window ===

impl Window {
    /// A window over sidecars speaking `protocols` (by index).
    pub fn new(protocols: Vec<Protocol>) -> anyhow::Result<Self> {
        let mut latencies = HashMap::new();
        for protocol in [Protocol::Sotw, Protocol::Delta] {
            latencies.insert(protocol, Latencies::new()?);
        }
        Ok(Self {
            protocols,
            written: HashMap::new(),
            applied: HashMap::new(),
            latencies,
            traffic: HashMap::new(),
            eds_versions: HashSet::new(),
            failed: BTreeMap::new(),
            synced: HashSet::new(),
        })
    }

    /// Change `change` was written at `at`.
    pub fn written(&mut self, change: usize, at: Instant) {
        self.written.insert(change, at);
    }

    /// Takes in one event.
    pub fn record(&mut self, event: Event) {
        match event {
            Event::Response {
                sidecar,
                kind,
                bytes,
                version,
                ..
            } => {
                let Some(&protocol) = self.protocols.get(sidecar) else {
                    return;
                };
                let traffic = self.traffic.entry(protocol).or_default();
                traffic.responses += 1;
                traffic.bytes += bytes as u64;
                if kind == ResourceType::ClusterLoadAssignment {
                    self.eds_versions.insert(version);
                }
            }
            Event::Applied {
                sidecar,
                change,
                acked,
            } => {
                let (Some(&protocol), Some(&written)) =
                    (self.protocols.get(sidecar), self.written.get(&change))
                else {
                    return;
                };
                let latency = acked.saturating_duration_since(written);
                if let Some(latencies) = self.latencies.get_mut(&protocol) {
                    latencies.record(latency);
                }
                let entry = self.applied.entry(change).or_default();
                entry.0 += 1;
                entry.1 = entry.1.max(latency);
            }
            Event::Synced { sidecar, .. } => {
                self.synced.insert(sidecar);
            }
            Event::Failed { sidecar, error } => {
                self.failed.entry(sidecar).or_insert(error);
            }
        }
    }

    /// How many sidecars ACKed `change`.
    pub fn acked(&self, change: usize) -> usize {
        self.applied.get(&change).map_or(0, |(count, _)| *count)
    }

    /// How many sidecars synced.
    pub fn synced(&self) -> usize {
        self.synced.len()
    }

    /// How many sidecars failed.
    pub fn failed(&self) -> usize {
        self.failed.len()
    }

    /// Every response so far, whatever the protocol.
    pub fn traffic(&self) -> Traffic {
        self.traffic
            .values()
            .fold(Traffic::default(), |sum, t| Traffic {
                responses: sum.responses + t.responses,
                bytes: sum.bytes + t.bytes,
            })
    }

    /// The figures of the initial sync that took `duration`.
    pub fn sync(&self, duration: Duration) -> Sync {
        Sync {
            proxies: self.protocols.len(),
            synced: self.synced.len(),
            duration_ms: duration.as_millis() as u64,
            traffic: self.traffic(),
            failed: self.failed.len(),
            errors: self.errors(),
        }
    }

    /// The first few distinct failures, each with how many sidecars it hit.
    pub fn errors(&self) -> Vec<String> {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for error in self.failed.values() {
            *counts.entry(error.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .take(5)
            .map(|(error, count)| format!("{count} × {error}"))
            .collect()
    }

    /// The figures of a phase of `changes` changes that took `duration` and `cpu_ms` of the
    /// control plane's CPU.
    pub fn phase(
        &self,
        changes: usize,
        duration: Duration,
        cpu_ms: Option<f64>,
    ) -> anyhow::Result<Phase> {
        let proxies = self.protocols.len();
        let per_change = |value: u64| value as f64 / changes.max(1) as f64;
        let traffic = self.traffic();
        let mut all = Latencies::new()?;
        let mut groups = Vec::new();
        for protocol in [Protocol::Sotw, Protocol::Delta] {
            let count = self.protocols.iter().filter(|p| **p == protocol).count();
            let Some(latencies) = self.latencies.get(&protocol) else {
                continue;
            };
            all.merge(latencies)?;
            if count == 0 {
                continue;
            }
            let traffic = self.traffic.get(&protocol).copied().unwrap_or_default();
            groups.push(Group {
                group: protocol_name(protocol).to_string(),
                proxies: count,
                latency: latencies.percentiles(),
                bytes_per_change: per_change(traffic.bytes),
                responses_per_change: per_change(traffic.responses),
            });
        }
        groups.insert(
            0,
            Group {
                group: "all".to_string(),
                proxies,
                latency: all.percentiles(),
                bytes_per_change: per_change(traffic.bytes),
                responses_per_change: per_change(traffic.responses),
            },
        );
        let mut all_acked = Latencies::new()?;
        let mut incomplete_changes = 0;
        for change in self.written.keys() {
            match self.applied.get(change) {
                Some((count, slowest)) if *count >= proxies => all_acked.record(*slowest),
                _ => incomplete_changes += 1,
            }
        }
        let applied: u64 = self.applied.values().map(|(count, _)| *count as u64).sum();
        let expected = (changes * proxies) as u64;
        Ok(Phase {
            changes,
            applied,
            missing: expected.saturating_sub(applied),
            all_acked: all_acked.percentiles(),
            incomplete_changes,
            groups,
            eds_pushes: self.eds_versions.len(),
            cpu_ms_per_change: cpu_ms.map(|ms| ms / changes.max(1) as f64),
            cpu_ms_per_push: cpu_ms.map(|ms| ms / self.eds_versions.len().max(1) as f64),
            duration_ms: duration.as_millis() as u64,
        })
    }
}

/// The name the report gives a protocol.
pub fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Sotw => "sotw",
        Protocol::Delta => "delta",
    }
}
