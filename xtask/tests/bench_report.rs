//! The bench report rendered from fixed figures: the markdown, the targets and the chart.

// Fixture helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

use pretty_assertions::assert_eq;
use xtask::bench::report::{self, Report, Status, svg};

fn measurement(
    topology: &str,
    rps: f64,
    latency: [u64; 5],
    errors: u64,
    proxy: Option<(f64, u64, u64)>,
) -> serde_json::Value {
    let [p50, p90, p99, p999, max] = latency;
    serde_json::json!({
        "topology": topology,
        "requests": 2000,
        "errors": errors,
        "rps": rps,
        "latency": {
            "count": 2000, "p50_us": p50, "p90_us": p90, "p99_us": p99, "p999_us": p999,
            "max_us": max, "mean_us": p50 as f64,
        },
        "curve": [
            { "percentile": 50.0, "latency_us": p50 },
            { "percentile": 90.0, "latency_us": p90 },
            { "percentile": 99.0, "latency_us": p99 },
            { "percentile": 99.9, "latency_us": p999 },
            { "percentile": 99.99, "latency_us": max },
        ],
        "cpu_us_per_request": proxy.map(|p| p.0),
        "rss_idle_kib": proxy.map(|p| p.1),
        "rss_peak_kib": proxy.map(|p| p.2),
    })
}

/// A run of every topology: closed loop on three of them, open loop at 1 000 rps on all five.
fn full_report() -> Report {
    let json = serde_json::json!({
        "settings": {
            "quick": true,
            "rounds": 1,
            "run_ms": 2000,
            "placement": "Proxies pinned to CPU 0, load generator and upstream to CPU 1 (2 CPUs)",
            "envoy_version": "1.40.0",
        },
        "unavailable": [],
        "scenarios": [
            {
                "protocol": "http1",
                "mode": { "kind": "closed", "connections": 16 },
                "results": [
                    measurement("direct", 20000.0, [700, 1000, 1400, 3900, 14000], 0, None),
                    measurement("mesh_one_hop", 15000.0, [1000, 1400, 2000, 5000, 20000], 0,
                        Some((20.0, 4096, 8192))),
                    measurement("envoy_one_hop", 10000.0, [1500, 2000, 3100, 6000, 25000], 0,
                        Some((50.0, 40960, 51200))),
                ],
            },
            {
                "protocol": "http1",
                "mode": { "kind": "open", "rate": 1000, "connections": 16 },
                "results": [
                    measurement("direct", 1000.0, [100, 150, 400, 900, 1200], 0, None),
                    measurement("mesh_one_hop", 999.4, [150, 220, 520, 1000, 1500], 1,
                        Some((25.5, 4096, 10240))),
                    measurement("envoy_one_hop", 1000.0, [200, 300, 740, 1300, 2000], 0,
                        Some((40.0, 40960, 51200))),
                    measurement("mesh_two_hops", 1000.0, [210, 300, 600, 1100, 1600], 0,
                        Some((52.0, 4200, 10300))),
                    measurement("envoy_two_hops", 1000.0, [300, 450, 1000, 2000, 3000], 0,
                        Some((85.0, 41000, 52000))),
                ],
            },
        ],
        "footprint": [
            footprint("mesh", 0, [3072, 4096, 12288]),
            footprint("envoy", 0, [40960, 43008, 61440]),
            footprint("mesh", 1000, [6144, 8192, 16384]),
            footprint("envoy", 1000, [61440, 64512, 81920]),
        ],
    });
    serde_json::from_value(json).unwrap()
}

fn footprint(
    proxy: &str,
    services: usize,
    [idle, loaded, connections]: [u64; 3],
) -> serde_json::Value {
    serde_json::json!({
        "proxy": proxy,
        "services": services,
        "rss_idle_kib": idle,
        "rss_loaded_kib": loaded,
        "rss_connections_kib": connections,
        "errors": 0,
    })
}

const FULL_MARKDOWN: &str = "\
# mesh.rs proxy benchmark

Quick run: 1 round(s) of 2000 ms per scenario and topology, interleaved. Proxies pinned to CPU 0, load generator and upstream to CPU 1 (2 CPUs). Envoy: 1.40.0.

Latencies in µs (open loop: from the intended send time). CPU: user + system time of the proxy processes per request. RSS in MiB: the largest proxy of the topology.

## HTTP/1.1, closed loop, 16 connections

![latency](latency-http1-closed-c16.svg)

| topology | rps | p50 | p90 | p99 | p99.9 | max | +p50 | +p99 | CPU µs/req | RSS idle | RSS peak | errors |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| direct | 20000 | 700 | 1000 | 1400 | 3900 | 14000 | — | — | — | — | — | 0 |
| mesh-proxy, 1 hop | 15000 | 1000 | 1400 | 2000 | 5000 | 20000 | +300 | +600 | 20.0 | 4.0 | 8.0 | 0 |
| Envoy, 1 hop | 10000 | 1500 | 2000 | 3100 | 6000 | 25000 | +800 | +1700 | 50.0 | 40.0 | 50.0 | 0 |

| ratios | rps ×direct | p99 ×direct | rps ×Envoy | p99 ×Envoy | +p99 ×Envoy | CPU ×Envoy | RSS idle ×Envoy | RSS peak ×Envoy |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| mesh-proxy, 1 hop | 0.75 | 1.43 | 1.50 | 0.65 | 0.35 | 0.40 | 0.10 | 0.16 |
| Envoy, 1 hop | 0.50 | 2.21 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 |

## HTTP/1.1, open loop, 1000 rps over 16 connections

![latency](latency-http1-open-1000rps.svg)

| topology | rps | p50 | p90 | p99 | p99.9 | max | +p50 | +p99 | CPU µs/req | RSS idle | RSS peak | errors |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| direct | 1000 | 100 | 150 | 400 | 900 | 1200 | — | — | — | — | — | 0 |
| mesh-proxy, 1 hop | 999 | 150 | 220 | 520 | 1000 | 1500 | +50 | +120 | 25.5 | 4.0 | 10.0 | 1 |
| Envoy, 1 hop | 1000 | 200 | 300 | 740 | 1300 | 2000 | +100 | +340 | 40.0 | 40.0 | 50.0 | 0 |
| mesh-proxy, 2 hops | 1000 | 210 | 300 | 600 | 1100 | 1600 | +110 | +200 | 52.0 | 4.1 | 10.1 | 0 |
| Envoy, 2 hops | 1000 | 300 | 450 | 1000 | 2000 | 3000 | +200 | +600 | 85.0 | 40.0 | 50.8 | 0 |

| ratios | rps ×direct | p99 ×direct | rps ×Envoy | p99 ×Envoy | +p99 ×Envoy | CPU ×Envoy | RSS idle ×Envoy | RSS peak ×Envoy |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| mesh-proxy, 1 hop | 1.00 | 1.30 | 1.00 | 0.70 | 0.35 | 0.64 | 0.10 | 0.20 |
| Envoy, 1 hop | 1.00 | 1.85 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 |
| mesh-proxy, 2 hops | 1.00 | 1.50 | 1.00 | 0.60 | 0.33 | 0.61 | 0.10 | 0.20 |
| Envoy, 2 hops | 1.00 | 2.50 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 | 1.00 |

## Memory by configuration size

One proxy, HTTP/1.1, `services` clusters and virtual hosts configured besides the route every request takes. RSS in MiB: once ready; right after 1000 rps; with 1000 client connections open.

| proxy | services | RSS idle | RSS at 1000 rps | RSS, 1000 connections | errors | idle ×Envoy | loaded ×Envoy | connections ×Envoy |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| mesh-proxy | 0 | 3.0 | 4.0 | 12.0 | 0 | 0.07 | 0.10 | 0.20 |
| Envoy | 0 | 40.0 | 42.0 | 60.0 | 0 | 1.00 | 1.00 | 1.00 |
| mesh-proxy | 1000 | 6.0 | 8.0 | 16.0 | 0 | 0.10 | 0.13 | 0.20 |
| Envoy | 1000 | 60.0 | 63.0 | 80.0 | 0 | 1.00 | 1.00 | 1.00 |

## Targets

Reported, never asserted. Measured on this machine in this run.

| target | measured | status |
| --- | --- | --- |
| p99 added latency, 2 hops ≤ 0.5× Envoy's | +200 µs vs +600 µs: 0.33× (HTTP/1.1, open loop, 1000 rps over 16 connections) | met |
| throughput per core ≥ 1.3× Envoy's (1 hop, 1 worker each) | 15000 rps vs 10000 rps: 1.50× (HTTP/1.1, closed loop, 16 connections) | met |
| CPU per request ≤ 0.5× Envoy's (1 hop) | 25.5 µs vs 40.0 µs: 0.64× (HTTP/1.1, open loop, 1000 rps over 16 connections) | **not met** |
| idle RSS of a sidecar ≤ 10 MiB | 4.0 MiB (HTTP/1.1, open loop, 1000 rps over 16 connections) | met |
| RSS ≤ 20 MiB at 1 000 rps with 1k services configured | 8.0 MiB (memory by configuration size) | met |
";

#[test]
fn markdown_of_a_full_run() {
    assert_eq!(report::markdown(&full_report()), FULL_MARKDOWN);
}

#[test]
fn the_json_round_trips() {
    let report = full_report();
    let text = serde_json::to_string_pretty(&report).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
}

#[test]
fn without_mesh_proxy_the_topologies_are_named_and_the_targets_not_measured() {
    let mut report = full_report();
    report.unavailable = serde_json::from_value(serde_json::json!([
        { "topology": "mesh_one_hop", "reason": "`mesh-proxy run` does not exist yet" },
        { "topology": "mesh_two_hops", "reason": "`mesh-proxy run` does not exist yet" },
    ]))
    .unwrap();
    for scenario in &mut report.scenarios {
        scenario
            .results
            .retain(|m| !format!("{:?}", m.topology).starts_with("Mesh"));
    }
    report
        .footprint
        .retain(|f| !format!("{:?}", f.proxy).starts_with("Mesh"));
    let markdown = report::markdown(&report);
    let lines: Vec<&str> = markdown.lines().collect();
    assert_eq!(
        lines[6..8],
        [
            "- **mesh-proxy, 1 hop: not available:** `mesh-proxy run` does not exist yet",
            "- **mesh-proxy, 2 hops: not available:** `mesh-proxy run` does not exist yet",
        ]
    );
    let statuses: Vec<Status> = report::targets(&report)
        .into_iter()
        .map(|t| t.status)
        .collect();
    assert_eq!(
        statuses,
        [
            Status::NotMeasured("needs a run of direct, mesh-proxy and Envoy at 2 hops".to_owned()),
            Status::NotMeasured("needs a run of mesh-proxy and Envoy at 1 hop".to_owned()),
            Status::NotMeasured("needs a run of mesh-proxy and Envoy at 1 hop".to_owned()),
            Status::NotMeasured("needs a run of mesh-proxy at 1 hop".to_owned()),
            Status::NotMeasured(
                "needs the memory run of mesh-proxy with 1 000 services".to_owned()
            ),
        ]
    );
    assert!(markdown.ends_with(
        "| RSS ≤ 20 MiB at 1 000 rps with 1k services configured | — \
         | not measured: needs the memory run of mesh-proxy with 1 000 services |\n"
    ));
    // Envoy's memory rows stay, with nothing to compare against but themselves.
    assert!(markdown.contains("| Envoy | 1000 | 60.0 | 63.0 | 80.0 | 0 | 1.00 | 1.00 | 1.00 |\n"));
}

#[test]
fn the_chart_has_one_line_per_topology_inside_the_plot() {
    let report = full_report();
    let scenario = &report.scenarios[1];
    let chart = svg::chart(scenario);
    assert!(chart.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" width="760""#));
    assert!(chart.ends_with("</svg>\n"));
    assert!(chart.contains(">HTTP/1.1, open loop, 1000 rps over 16 connections</text>"));
    let polylines: Vec<&str> = chart
        .lines()
        .filter(|line| line.starts_with("<polyline"))
        .collect();
    assert_eq!(polylines.len(), 5);
    for (line, colour) in polylines
        .iter()
        .zip(["#555555", "#1f77b4", "#ff7f0e", "#0b3c8c", "#b34700"])
    {
        assert!(line.contains(&format!(r#"stroke="{colour}""#)), "{line}");
        let points = line
            .split("points=\"")
            .nth(1)
            .unwrap()
            .trim_end_matches("\"/>");
        let points: Vec<(f64, f64)> = points
            .split(' ')
            .map(|pair| {
                let (x, y) = pair.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(points.len(), 5);
        // The plot spans x 70..580 and y 40..370; 50th percentile on the left edge, 99.99th
        // on the right.
        assert_eq!(points[0].0, 70.0);
        assert_eq!(points[4].0, 580.0);
        for (x, y) in points {
            assert!(
                (70.0..=580.0).contains(&x) && (40.0..=370.0).contains(&y),
                "{x},{y}"
            );
        }
    }
    // The slowest point (3000 µs) sets the y axis at 5000 µs, labelled in five steps.
    for label in ["0", "1000", "2000", "3000", "4000", "5000"] {
        assert!(chart.contains(&format!(r#"text-anchor="end">{label}</text>"#)));
    }
    for label in ["50", "90", "99", "99.9", "99.99"] {
        assert!(chart.contains(&format!(r#"text-anchor="middle">{label}</text>"#)));
    }
    for topology in [
        "direct",
        "mesh-proxy, 1 hop",
        "Envoy, 1 hop",
        "mesh-proxy, 2 hops",
        "Envoy, 2 hops",
    ] {
        assert!(chart.contains(&format!(">{topology}</text>")), "{topology}");
    }
}
