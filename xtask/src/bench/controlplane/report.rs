//! The control-plane bench's results: JSON as measured, and a markdown rendering with the
//! issue's targets, met or not (reported, never asserted).

use std::{fmt::Write as _, path::Path};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::{
    Size,
    figures::{Phase, Sync},
};
use crate::bench::{
    histogram::Percentiles,
    report::{
        Status, Target,
        format::{self, Align, bytes, header, kib, measured, ms, row},
    },
};

/// Everything one `cargo xtask bench --controlplane` run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub settings: Settings,
    /// One entry per mesh size.
    pub runs: Vec<Run>,
}

/// How the run was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `--quick`.
    pub quick: bool,
    /// The control plane's `--debounce`, in milliseconds.
    pub debounce_ms: u64,
    /// Single changes per size.
    pub changes: usize,
    /// Churn: changes per second, for how long.
    pub churn_rate: u32,
    pub churn_seconds: f64,
    /// Where the control plane and the sidecars ran, in words.
    pub placement: String,
    /// The control-plane binary measured.
    pub binary: String,
}

/// The figures of one mesh size.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub services: usize,
    pub endpoints: usize,
    /// Simulated sidecars (odd ones state of the world, even ones delta).
    pub proxies: usize,
    pub sync: Sync,
    pub memory: Memory,
    /// Single endpoint changes, one at a time.
    pub single: Option<Phase>,
    /// Endpoint changes at a steady rate.
    pub churn: Option<Phase>,
    /// The control plane's RSS after both phases.
    pub rss_end_kib: Option<u64>,
    /// Why the size could not be measured (whole or in part).
    pub error: Option<String>,
}

/// The control plane's resident memory around the initial sync.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// Once ready, before any sidecar connected.
    pub rss_idle_kib: u64,
    /// Once every sidecar synced (or the sync's deadline passed).
    pub rss_synced_kib: u64,
    /// The difference, per synced sidecar; none if none synced.
    pub kib_per_proxy: Option<f64>,
}

// === impl Run ===

impl Run {
    /// A size whose sync finished, before its changes.
    pub fn new(size: Size, sync: Sync, memory: Memory) -> Run {
        Run {
            services: size.services,
            endpoints: size.endpoints,
            proxies: size.proxies,
            sync,
            memory,
            single: None,
            churn: None,
            rss_end_kib: None,
            error: None,
        }
    }

    /// A size that could not be measured.
    pub fn failed(size: Size, error: String) -> Run {
        let sync = Sync {
            proxies: size.proxies,
            synced: 0,
            duration_ms: 0,
            traffic: Default::default(),
            failed: 0,
            errors: Vec::new(),
        };
        Run {
            error: Some(error),
            ..Run::new(size, sync, Memory::new(0, 0, 0))
        }
    }
}

// === impl Memory ===

impl Memory {
    /// The figures from the RSS before and after `synced` sidecars synced.
    pub fn new(rss_idle_kib: u64, rss_synced_kib: u64, synced: usize) -> Memory {
        let grown = rss_synced_kib.saturating_sub(rss_idle_kib) as f64;
        Memory {
            rss_idle_kib,
            rss_synced_kib,
            kib_per_proxy: (synced > 0).then(|| grown / synced as f64),
        }
    }
}

/// The targets, evaluated on `report`: the ACK latency on the run with 5 000 services
/// and at least 1 000 sidecars, memory on the largest run that synced.
pub fn targets(report: &Report) -> Vec<Target> {
    let scale = report
        .runs
        .iter()
        .find(|run| run.services >= 5_000 && run.proxies >= 1_000);
    let latency = match scale.map(|run| (run, &run.single)) {
        None => Status::NotMeasured(
            "needs the full run (5 000 services, 1 000 sidecars); this run has none".to_string(),
        ),
        Some((run, None)) => Status::NotMeasured(
            run.error
                .clone()
                .unwrap_or_else(|| "no sidecar synced".to_string()),
        ),
        Some((_, Some(single))) if single.incomplete_changes > 0 => Status::NotMet,
        Some((_, Some(single))) if single.all_acked.p99_us <= 100_000 => Status::Met,
        Some(_) => Status::NotMet,
    };
    let latency_measured =
        scale
            .and_then(|run| run.single.as_ref())
            .map_or_else(String::new, |single| {
                format!(
                    "p99 {} ({} of {} changes reached every sidecar)",
                    ms(single.all_acked.p99_us),
                    single.changes - single.incomplete_changes,
                    single.changes
                )
            });
    let largest = report
        .runs
        .iter()
        .filter(|run| run.memory.kib_per_proxy.is_some())
        .max_by_key(|run| (run.services, run.proxies));
    let (memory_measured, memory) =
        match largest.and_then(|run| Some((run, run.memory.kib_per_proxy?))) {
            Some((run, kib)) => (
                format!(
                    "{kib:.1} KiB ({} services, {} sidecars)",
                    run.services, run.sync.synced
                ),
                if kib <= 100.0 {
                    Status::Met
                } else {
                    Status::NotMet
                },
            ),
            None => (
                String::new(),
                Status::NotMeasured("no sidecar synced".to_string()),
            ),
        };
    vec![
        Target {
            target: "change → all 1 000 proxies ACKed, p99 ≤ 100 ms, with 5 000 services",
            measured: latency_measured,
            status: latency,
        },
        Target {
            target: "≤ 100 KiB control-plane RSS per connected proxy",
            measured: memory_measured,
            status: memory,
        },
    ]
}

/// Writes `controlplane.json` and `controlplane.md` into `out`, and prints the markdown.
pub fn write(out: &Path, report: &Report) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let json = out.join("controlplane.json");
    std::fs::write(&json, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let markdown = markdown(report);
    let md = out.join("controlplane.md");
    std::fs::write(&md, &markdown).with_context(|| format!("writing {}", md.display()))?;
    print!("{markdown}");
    eprintln!("bench: wrote {} and {}", md.display(), json.display());
    Ok(())
}

/// The report as markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let settings = &report.settings;
    let _ = writeln!(out, "# mesh.rs control-plane scale\n");
    let _ = writeln!(
        out,
        "{} run; debounce {} ms; {} single changes, then churn at {} changes/s for {} s. {}. \
         Latency is from the file write (rename) to the sidecar's ACK of the first endpoint \
         response carrying the change: it includes the file watch, the debounce (one window, \
         before the directory is read), the rebuild of the model and the push.\n",
        if settings.quick { "Quick" } else { "Full" },
        settings.debounce_ms,
        settings.changes,
        settings.churn_rate,
        settings.churn_seconds,
        settings.placement
    );
    for run in &report.runs {
        run_section(&mut out, run);
    }
    let _ = writeln!(out, "## Targets\n");
    format::targets_table(&mut out, &targets(report));
    out
}

fn run_section(out: &mut String, run: &Run) {
    let _ = writeln!(
        out,
        "## {} services, {} endpoints, {} sidecars\n",
        run.services, run.endpoints, run.proxies
    );
    if let Some(error) = &run.error {
        let _ = writeln!(out, "Not measured: {error}\n");
    }
    let sync = &run.sync;
    let _ = writeln!(
        out,
        "Initial sync: {} of {} sidecars synced in {} ms ({} responses, {}); {} failed.",
        sync.synced,
        sync.proxies,
        sync.duration_ms,
        sync.traffic.responses,
        bytes(sync.traffic.bytes as f64),
        sync.failed
    );
    for error in &sync.errors {
        let _ = writeln!(out, "- {error}");
    }
    let memory = &run.memory;
    let _ = writeln!(
        out,
        "\nControl-plane RSS: {} idle, {} synced: {} per connected sidecar{}.\n",
        kib(memory.rss_idle_kib as f64),
        kib(memory.rss_synced_kib as f64),
        measured(memory.kib_per_proxy, kib),
        run.rss_end_kib.map_or_else(String::new, |end| format!(
            "; {} after the changes",
            kib(end as f64)
        ))
    );
    for (title, phase) in [("Single changes", &run.single), ("Churn", &run.churn)] {
        let Some(phase) = phase else {
            continue;
        };
        let _ = writeln!(
            out,
            "**{title}**: {} changes in {} ms, {} distinct endpoint versions pushed; every \
             sidecar ACKed \
             {} of them: file write → last ACK p50 {}, p99 {}, max {}; {} sidecar × change \
             pairs missing; control-plane CPU {} per change, {} per push.\n",
            phase.changes,
            phase.duration_ms,
            phase.eds_pushes,
            phase.changes - phase.incomplete_changes,
            ms(phase.all_acked.p50_us),
            ms(phase.all_acked.p99_us),
            ms(phase.all_acked.max_us),
            phase.missing,
            measured(phase.cpu_ms_per_change, one_decimal_ms),
            measured(phase.cpu_ms_per_push, one_decimal_ms)
        );
        header(
            out,
            &[
                "sidecars",
                "count",
                "ACKs",
                "p50",
                "p99",
                "max",
                "bytes pushed per change",
                "responses per change",
            ],
            Align::Left,
        );
        for group in &phase.groups {
            let latency: &Percentiles = &group.latency;
            row(
                out,
                &[
                    group.group.clone(),
                    group.proxies.to_string(),
                    latency.count.to_string(),
                    ms(latency.p50_us),
                    ms(latency.p99_us),
                    ms(latency.max_us),
                    bytes(group.bytes_per_change),
                    format!("{:.1}", group.responses_per_change),
                ],
            );
        }
        out.push('\n');
    }
}

fn one_decimal_ms(ms: f64) -> String {
    format!("{ms:.1} ms")
}

#[cfg(test)]
mod tests;
