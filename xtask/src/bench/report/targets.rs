//! The benchmark targets of the proxy work, checked against one run's figures. They are
//! reported, never asserted: a machine that misses one still produces a report.

use std::fmt;

use super::{Measurement, Report, Scenario, mib};
use crate::bench::{
    footprint::Footprint,
    load::{Mode, client::Protocol},
    topology::{ProxyKind, Topology},
};

/// One target and how the run fared.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The target, in words.
    pub target: &'static str,
    /// What was measured, with the scenario it comes from.
    pub measured: String,
    /// Met, not met, or why it could not be told.
    pub status: Status,
}

/// Whether a target was met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// It was.
    Met,
    /// It was not.
    NotMet,
    /// The run lacks a figure it needs.
    NotMeasured(String),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Met => f.write_str("met"),
            Status::NotMet => f.write_str("**not met**"),
            Status::NotMeasured(why) => write!(f, "not measured: {why}"),
        }
    }
}

/// The targets, evaluated on `report`. Latency and CPU come from the first HTTP/1.1
/// open-loop scenario (the lowest rate), throughput from the first HTTP/1.1 closed-loop one.
pub fn targets(report: &Report) -> Vec<Target> {
    let open = report
        .scenarios
        .iter()
        .find(|s| s.protocol == Protocol::Http1 && matches!(s.mode, Mode::Open { .. }));
    let closed = report
        .scenarios
        .iter()
        .find(|s| s.protocol == Protocol::Http1 && matches!(s.mode, Mode::Closed { .. }));
    vec![
        added_p99(open),
        compare(
            "throughput per core ≥ 1.3× Envoy's (1 hop, 1 worker each)",
            closed,
            |m| Some(m.rps),
            |value| format!("{value:.0} rps"),
            |ratio| ratio >= 1.3,
        ),
        compare(
            "CPU per request ≤ 0.5× Envoy's (1 hop)",
            open,
            |m| m.cpu_us_per_request,
            |value| format!("{value:.1} µs"),
            |ratio| ratio <= 0.5,
        ),
        absolute(
            "idle RSS of a sidecar ≤ 10 MiB",
            open,
            |m| m.rss_idle_kib,
            10 * 1024,
        ),
        loaded_with_1k_services(&report.footprint),
    ]
}

fn loaded_with_1k_services(footprint: &[Footprint]) -> Target {
    let target = "RSS ≤ 20 MiB at 1 000 rps with 1k services configured";
    match footprint
        .iter()
        .find(|f| f.proxy == ProxyKind::Mesh && f.services == 1_000)
    {
        Some(f) => Target {
            target,
            measured: format!(
                "{} MiB (memory by configuration size)",
                mib(f.rss_loaded_kib)
            ),
            status: if f.rss_loaded_kib <= 20 * 1024 {
                Status::Met
            } else {
                Status::NotMet
            },
        },
        None => not_measured(target, "the memory run of mesh-proxy with 1 000 services"),
    }
}

fn added_p99(scenario: Option<&Scenario>) -> Target {
    let target = "p99 added latency, 2 hops ≤ 0.5× Envoy's";
    let figures = scenario.and_then(|s| {
        let direct = s.get(Topology::Direct)?.latency.p99_us as f64;
        let mesh = s.get(Topology::MeshTwoHops)?.latency.p99_us as f64 - direct;
        let envoy = s.get(Topology::EnvoyTwoHops)?.latency.p99_us as f64 - direct;
        Some((s, mesh, envoy))
    });
    match figures {
        None => not_measured(target, "a run of direct, mesh-proxy and Envoy at 2 hops"),
        Some((_, _, envoy)) if envoy <= 0.0 => Target {
            target,
            measured: format!("Envoy added {envoy:+.0} µs"),
            status: Status::NotMeasured("Envoy added no latency to compare with".to_owned()),
        },
        Some((scenario, mesh, envoy)) => Target {
            target,
            measured: format!(
                "{mesh:+.0} µs vs {envoy:+.0} µs: {:.2}× ({})",
                mesh / envoy,
                scenario.title()
            ),
            status: if mesh / envoy <= 0.5 {
                Status::Met
            } else {
                Status::NotMet
            },
        },
    }
}

fn compare(
    target: &'static str,
    scenario: Option<&Scenario>,
    figure: fn(&Measurement) -> Option<f64>,
    show: fn(f64) -> String,
    met: fn(f64) -> bool,
) -> Target {
    let figures = scenario.and_then(|s| {
        let mesh = figure(s.get(Topology::MeshOneHop)?)?;
        let envoy = figure(s.get(Topology::EnvoyOneHop)?)?;
        Some((s, mesh, envoy))
    });
    match figures {
        Some((scenario, mesh, envoy)) if envoy > 0.0 => Target {
            target,
            measured: format!(
                "{} vs {}: {:.2}× ({})",
                show(mesh),
                show(envoy),
                mesh / envoy,
                scenario.title()
            ),
            status: if met(mesh / envoy) {
                Status::Met
            } else {
                Status::NotMet
            },
        },
        _ => not_measured(target, "a run of mesh-proxy and Envoy at 1 hop"),
    }
}

fn absolute(
    target: &'static str,
    scenario: Option<&Scenario>,
    figure: fn(&Measurement) -> Option<u64>,
    limit_kib: u64,
) -> Target {
    let figures = scenario.and_then(|s| Some((s, figure(s.get(Topology::MeshOneHop)?)?)));
    match figures {
        Some((scenario, kib)) => Target {
            target,
            measured: format!("{} MiB ({})", mib(kib), scenario.title()),
            status: if kib <= limit_kib {
                Status::Met
            } else {
                Status::NotMet
            },
        },
        None => not_measured(target, "a run of mesh-proxy at 1 hop"),
    }
}

fn not_measured(target: &'static str, needs: &str) -> Target {
    Target {
        target,
        measured: "—".to_owned(),
        status: Status::NotMeasured(format!("needs {needs}")),
    }
}
