//! The results of a bench run, as JSON, and their markdown rendering: one table of figures and
//! one of ratios per scenario, then the targets, met or not.
//!
//! Ratios are computed here from the figures of the same run, never stored: the JSON holds
//! what was measured, the report what it means.

pub(crate) mod format;
pub mod svg;
mod targets;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{
    footprint::{Footprint, LOAD_RATE, OPEN_CONNECTIONS},
    histogram::{CurvePoint, Percentiles},
    load::{Mode, client::Protocol},
    topology::{ProxyKind, Topology},
};

use self::format::{Align, header, mib, optional, ratio, row};
pub use self::targets::{Status, Target, targets};

/// Everything one `cargo xtask bench` run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// How the run was made.
    pub settings: Settings,
    /// Topologies that could not run, and why.
    pub unavailable: Vec<Unavailable>,
    /// One entry per protocol and pacing.
    pub scenarios: Vec<Scenario>,
    /// Memory by configuration size, one entry per proxy and size measured.
    #[serde(default)]
    pub footprint: Vec<Footprint>,
}

/// How the run was made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `--quick`.
    pub quick: bool,
    /// How many times each scenario ran on each topology, interleaved.
    pub rounds: u32,
    /// How long each run sent requests, in milliseconds.
    pub run_ms: u64,
    /// Where the proxies and the load generator ran, in words.
    pub placement: String,
    /// `envoy --version`, if Envoy ran.
    pub envoy_version: Option<String>,
}

/// A topology left out of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unavailable {
    /// Which.
    pub topology: Topology,
    /// Why.
    pub reason: String,
}

/// One protocol and pacing, on every topology.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    /// What the load generator spoke.
    pub protocol: Protocol,
    /// How it paced requests.
    pub mode: Mode,
    /// One entry per topology that ran, all rounds merged.
    pub results: Vec<Measurement>,
}

/// The figures of one topology in one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// Which topology.
    pub topology: Topology,
    /// Requests answered.
    pub requests: u64,
    /// Requests failed or never sent.
    pub errors: u64,
    /// Requests answered per second of run.
    pub rps: f64,
    /// The latency distribution.
    pub latency: Percentiles,
    /// The latency curve for the chart.
    pub curve: Vec<CurvePoint>,
    /// CPU time of the proxy processes (all hops) per answered request, in microseconds.
    pub cpu_us_per_request: Option<f64>,
    /// Resident memory of the largest proxy of the topology after start, before any load.
    pub rss_idle_kib: Option<u64>,
    /// The largest high-water mark of resident memory of its proxies after the runs.
    pub rss_peak_kib: Option<u64>,
}

// === impl Scenario ===

impl Scenario {
    /// The heading the report gives it.
    pub fn title(&self) -> String {
        format!("{}, {}", self.protocol.label(), self.mode.label())
    }

    /// The name of its chart file.
    pub fn chart_file(&self) -> String {
        format!("latency-{}-{}.svg", self.protocol.slug(), self.mode.slug())
    }

    /// The figures of `topology`, if it ran.
    pub fn get(&self, topology: Topology) -> Option<&Measurement> {
        self.results.iter().find(|m| m.topology == topology)
    }
}

/// The report as markdown.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    let settings = &report.settings;
    let _ = writeln!(out, "# mesh.rs proxy benchmark\n");
    let _ = writeln!(
        out,
        "{} run: {} round(s) of {} ms per scenario and topology, interleaved. {}. Envoy: {}.\n",
        if settings.quick { "Quick" } else { "Full" },
        settings.rounds,
        settings.run_ms,
        settings.placement,
        settings.envoy_version.as_deref().unwrap_or("not run"),
    );
    let _ = writeln!(
        out,
        "Latencies in µs (open loop: from the intended send time). CPU: user + system time of \
         the proxy processes per request. RSS in MiB: the largest proxy of the topology.\n"
    );
    for unavailable in &report.unavailable {
        let _ = writeln!(
            out,
            "- **{}: not available:** {}",
            unavailable.topology.label(),
            unavailable.reason
        );
    }
    if !report.unavailable.is_empty() {
        out.push('\n');
    }
    for scenario in &report.scenarios {
        scenario_section(&mut out, scenario);
    }
    if !report.footprint.is_empty() {
        footprint_section(&mut out, &report.footprint);
    }
    let _ = writeln!(out, "## Targets\n");
    let _ = writeln!(
        out,
        "Reported, never asserted. Measured on this machine in this run.\n"
    );
    format::targets_table(&mut out, &targets(report));
    out
}

fn scenario_section(out: &mut String, scenario: &Scenario) {
    let _ = writeln!(out, "## {}\n", scenario.title());
    let _ = writeln!(out, "![latency]({})\n", scenario.chart_file());
    let direct = scenario.get(Topology::Direct);
    header(
        out,
        &[
            "topology",
            "rps",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "+p50",
            "+p99",
            "CPU µs/req",
            "RSS idle",
            "RSS peak",
            "errors",
        ],
        Align::Right,
    );
    for m in &scenario.results {
        let latency = &m.latency;
        let added = |pick: fn(&Percentiles) -> u64| match direct {
            Some(direct) if m.topology != Topology::Direct => {
                format!("{:+}", pick(latency) as i64 - pick(&direct.latency) as i64)
            }
            _ => "—".to_owned(),
        };
        row(
            out,
            &[
                m.topology.label().to_string(),
                format!("{:.0}", m.rps),
                latency.p50_us.to_string(),
                latency.p90_us.to_string(),
                latency.p99_us.to_string(),
                latency.p999_us.to_string(),
                latency.max_us.to_string(),
                added(|p| p.p50_us),
                added(|p| p.p99_us),
                optional(m.cpu_us_per_request, |cpu| format!("{cpu:.1}")),
                optional(m.rss_idle_kib, mib),
                optional(m.rss_peak_kib, mib),
                m.errors.to_string(),
            ],
        );
    }
    out.push('\n');
    header(
        out,
        &[
            "ratios",
            "rps ×direct",
            "p99 ×direct",
            "rps ×Envoy",
            "p99 ×Envoy",
            "+p99 ×Envoy",
            "CPU ×Envoy",
            "RSS idle ×Envoy",
            "RSS peak ×Envoy",
        ],
        Align::Right,
    );
    for m in scenario
        .results
        .iter()
        .filter(|m| m.topology != Topology::Direct)
    {
        let envoy = m.topology.envoy_counterpart().and_then(|t| scenario.get(t));
        let added_p99 = |x: &Measurement| {
            direct.map(|direct| x.latency.p99_us as f64 - direct.latency.p99_us as f64)
        };
        row(
            out,
            &[
                m.topology.label().to_string(),
                ratio(Some(m.rps), direct.map(|d| d.rps)),
                ratio(
                    Some(m.latency.p99_us as f64),
                    direct.map(|d| d.latency.p99_us as f64),
                ),
                ratio(Some(m.rps), envoy.map(|e| e.rps)),
                ratio(
                    Some(m.latency.p99_us as f64),
                    envoy.map(|e| e.latency.p99_us as f64),
                ),
                ratio(added_p99(m), envoy.and_then(added_p99)),
                ratio(
                    m.cpu_us_per_request,
                    envoy.and_then(|e| e.cpu_us_per_request),
                ),
                ratio(
                    m.rss_idle_kib.map(|k| k as f64),
                    envoy.and_then(|e| e.rss_idle_kib).map(|k| k as f64),
                ),
                ratio(
                    m.rss_peak_kib.map(|k| k as f64),
                    envoy.and_then(|e| e.rss_peak_kib).map(|k| k as f64),
                ),
            ],
        );
    }
    out.push('\n');
}

fn footprint_section(out: &mut String, footprint: &[Footprint]) {
    let _ = writeln!(out, "## Memory by configuration size\n");
    let _ = writeln!(
        out,
        "One proxy, HTTP/1.1, `services` clusters and virtual hosts configured besides the \
         route every request takes. RSS in MiB: once ready; right after {LOAD_RATE} rps; with \
         {OPEN_CONNECTIONS} client connections open.\n"
    );
    header(
        out,
        &[
            "proxy".to_string(),
            "services".to_string(),
            "RSS idle".to_string(),
            format!("RSS at {LOAD_RATE} rps"),
            format!("RSS, {OPEN_CONNECTIONS} connections"),
            "errors".to_string(),
            "idle ×Envoy".to_string(),
            "loaded ×Envoy".to_string(),
            "connections ×Envoy".to_string(),
        ],
        Align::Right,
    );
    for f in footprint {
        let envoy = footprint
            .iter()
            .find(|e| e.proxy == ProxyKind::Envoy && e.services == f.services);
        let versus = |pick: fn(&Footprint) -> u64| {
            ratio(Some(pick(f) as f64), envoy.map(|e| pick(e) as f64))
        };
        row(
            out,
            &[
                f.proxy.label().to_string(),
                f.services.to_string(),
                mib(f.rss_idle_kib),
                mib(f.rss_loaded_kib),
                mib(f.rss_connections_kib),
                f.errors.to_string(),
                versus(|f| f.rss_idle_kib),
                versus(|f| f.rss_loaded_kib),
                versus(|f| f.rss_connections_kib),
            ],
        );
    }
    out.push('\n');
}
