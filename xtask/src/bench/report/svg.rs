//! The latency chart of one scenario, as SVG written by hand: latency against percentile, the
//! percentile axis log-scaled from 50 to 99.99 so the tail gets most of the width, one line
//! per topology.

use std::fmt::Write as _;

use super::Scenario;
use crate::bench::topology::Topology;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 180.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// The percentiles labelled on the x axis.
const X_TICKS: [(f64, &str); 5] = [
    (50.0, "50"),
    (90.0, "90"),
    (99.0, "99"),
    (99.9, "99.9"),
    (99.99, "99.99"),
];

/// The chart of `scenario`.
pub fn chart(scenario: &Scenario) -> String {
    let plot_width = WIDTH - LEFT - RIGHT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let max_latency = scenario
        .results
        .iter()
        .flat_map(|m| m.curve.iter().map(|point| point.latency_us))
        .max()
        .unwrap_or(0);
    let y_max = nice_ceiling(max_latency);
    let x = |percentile: f64| {
        LEFT + plot_width * (nines(percentile) - nines(50.0)) / (nines(99.99) - nines(50.0))
    };
    let y = |latency: u64| TOP + plot_height * (1.0 - latency as f64 / y_max as f64);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        LEFT + plot_width / 2.0,
        escape(&scenario.title())
    );
    // Grid and tick labels.
    for (percentile, label) in X_TICKS {
        let at = x(percentile);
        let _ = writeln!(
            svg,
            r##"<line x1="{at:.1}" y1="{TOP}" x2="{at:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            TOP + plot_height
        );
        let _ = writeln!(
            svg,
            r#"<text x="{at:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#,
            TOP + plot_height + 18.0
        );
    }
    for step in 0..=5u64 {
        let latency = y_max * step / 5;
        let at = y(latency);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{at:.1}" x2="{:.1}" y2="{at:.1}" stroke="#ddd"/>"##,
            LEFT + plot_width
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{latency}</text>"#,
            LEFT - 6.0,
            at + 4.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + plot_width / 2.0,
        HEIGHT - 12.0
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{:.1}" text-anchor="middle" transform="rotate(-90 16 {:.1})">latency (µs)</text>"#,
        TOP + plot_height / 2.0,
        TOP + plot_height / 2.0
    );
    let _ = writeln!(
        svg,
        r#"<rect x="{LEFT}" y="{TOP}" width="{plot_width:.1}" height="{plot_height:.1}" fill="none" stroke="black"/>"#
    );
    // One line per topology, and its legend entry.
    for (index, measurement) in scenario.results.iter().enumerate() {
        let colour = colour(measurement.topology);
        let points: Vec<String> = measurement
            .curve
            .iter()
            .map(|point| format!("{:.1},{:.1}", x(point.percentile), y(point.latency_us)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            points.join(" ")
        );
        let legend_y = TOP + 10.0 + 20.0 * index as f64;
        let legend_x = LEFT + plot_width + 14.0;
        let _ = writeln!(
            svg,
            r#"<line x1="{legend_x:.1}" y1="{legend_y:.1}" x2="{:.1}" y2="{legend_y:.1}" stroke="{colour}" stroke-width="2"/>"#,
            legend_x + 20.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            legend_x + 26.0,
            legend_y + 4.0,
            escape(measurement.topology.label())
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// How many nines a percentile has, continuously: 90 → 1, 99 → 2, 99.9 → 3.
fn nines(percentile: f64) -> f64 {
    (100.0 / (100.0 - percentile)).log10()
}

/// The smallest of 1, 2 and 5 times a power of ten at or above `value` (at least 1).
pub(crate) fn nice_ceiling(value: u64) -> u64 {
    let mut decade = 1u64;
    loop {
        for factor in [1u64, 2, 5] {
            let candidate = factor.saturating_mul(decade);
            if candidate >= value {
                return candidate;
            }
        }
        decade = decade.saturating_mul(10);
    }
}

fn colour(topology: Topology) -> &'static str {
    match topology {
        Topology::Direct => "#555555",
        Topology::MeshOneHop => "#1f77b4",
        Topology::MeshTwoHops => "#0b3c8c",
        Topology::EnvoyOneHop => "#ff7f0e",
        Topology::EnvoyTwoHops => "#b34700",
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
