//! `cargo xtask bench --controlplane`: the control plane at scale.
//!
//! For each mesh size, a generated mesh (Services, Pods, EndpointSlices) is written to a
//! directory, the real `mesh-controlplane` serves it in file mode pinned to one CPU, and a
//! fleet of simulated sidecars in this process (on the other CPU) connects over ADS, half of
//! them state of the world and half delta. Then: the initial sync, the control plane's memory
//! per connected sidecar, single endpoint changes one at a time, and a churn of endpoint
//! changes at a steady rate — each change timed from the file write to every sidecar's ACK.
//! docs/performance.md says what each figure means.

mod decode;
mod delta;
pub mod figures;
pub mod fleet;
pub mod mesh;
pub mod process;
pub mod report;
pub mod sidecar;
mod sotw;
mod stream;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context as _;

use self::{
    fleet::{Fleet, Pacing},
    mesh::{Mesh, MeshSize},
    process::{ControlPlane, Launch},
    report::{Memory, Report, Run, Settings},
};
use super::{BenchArgs, procfs};

/// The control plane's `--debounce`: its default.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// Namespaces the services are dealt into.
const NAMESPACES: usize = 8;

/// What one bench run measures.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The mesh sizes, each with its own control plane and fleet.
    pub sizes: Vec<Size>,
    /// Single changes per size.
    pub changes: usize,
    /// Churn: changes per second, and for how long.
    pub churn_rate: u32,
    pub churn: Duration,
    /// The control plane's `--debounce`.
    pub debounce: Duration,
    /// How long the initial sync of every sidecar may take.
    pub sync_patience: Duration,
    /// How long the sidecars have to ACK a change, from its write.
    pub change_patience: Duration,
    /// How long the control plane may take to read the mesh and answer `/ready`.
    pub ready_patience: Duration,
}

/// One mesh size and its fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub services: usize,
    pub endpoints: usize,
    /// Simulated sidecars.
    pub proxies: usize,
}

/// Everything a measurement needs besides the plan.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `mesh-controlplane` binary.
    pub binary: PathBuf,
    /// Where the meshes and the control plane's logs go; emptied first.
    pub dir: PathBuf,
    /// The CPU the control plane is pinned to, if any.
    pub cpu: Option<usize>,
    /// Where the control plane and the sidecars run, in words.
    pub placement: String,
}

// === impl Plan ===

impl Plan {
    /// The full run, or with `quick` a small one that finishes in about a minute; `seconds`
    /// overrides the churn's duration.
    pub fn new(quick: bool, seconds: Option<u64>) -> Plan {
        let size = |services, endpoints, proxies| Size {
            services,
            endpoints,
            proxies,
        };
        let (sizes, changes, churn) = if quick {
            (vec![size(200, 2_000, 100)], 10, 5)
        } else {
            (
                vec![size(1_000, 10_000, 1_000), size(5_000, 50_000, 1_000)],
                20,
                30,
            )
        };
        Plan {
            sizes,
            changes,
            churn_rate: 40,
            churn: Duration::from_secs(seconds.unwrap_or(churn).max(1)),
            debounce: DEBOUNCE,
            sync_patience: Duration::from_secs(if quick { 120 } else { 600 }),
            change_patience: Duration::from_secs(30),
            ready_patience: Duration::from_secs(if quick { 60 } else { 300 }),
        }
    }

    /// The plan with one mesh of `services` services (ten endpoints each) instead of its sizes,
    /// and `sidecars` sidecars per mesh; either left as planned when `None`.
    pub fn resized(mut self, services: Option<u32>, sidecars: Option<u32>) -> Plan {
        if let Some(services) = services {
            let proxies = self.sizes.first().map_or(1, |size| size.proxies);
            let services = services as usize;
            self.sizes = vec![Size {
                services,
                endpoints: services * 10,
                proxies,
            }];
        }
        if let Some(sidecars) = sidecars {
            for size in &mut self.sizes {
                size.proxies = sidecars as usize;
            }
        }
        self
    }

    /// How many changes the churn writes.
    pub fn churn_changes(&self) -> usize {
        (u128::from(self.churn_rate) * self.churn.as_millis() / 1000) as usize
    }
}

/// Runs `cargo xtask bench --controlplane`, writing the report to `--out` (default `root/target/bench`).
pub fn run(root: &Path, args: &BenchArgs) -> anyhow::Result<()> {
    let plan = Plan::new(args.quick, args.seconds).resized(args.services, args.sidecars);
    let out = args.out_dir(root);
    // Built before pinning: the build should have every CPU.
    let binary = match &args.controlplane_binary {
        Some(path) => path.clone(),
        None => process::build_release(root).map_err(anyhow::Error::msg)?,
    };
    let (cpu, placement) = super::runner::pin(args.no_pin);
    // `pin` words it for the proxy bench; only the pinned case names the processes.
    let placement = match cpu {
        Some(cpu) => format!(
            "Control plane pinned to CPU {cpu}, the simulated sidecars (this process) to the \
             other CPU"
        ),
        None => placement,
    };
    eprintln!("bench: {placement}");
    let options = Options {
        binary,
        dir: out.join("controlplane"),
        cpu,
        placement,
    };
    let report = measure(&plan, &options, args.quick)?;
    report::write(&out, &report)
}

/// Measures every size of `plan`. A size that fails is reported with its error; the others
/// still run.
pub fn measure(plan: &Plan, options: &Options, quick: bool) -> anyhow::Result<Report> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the sidecars' runtime")?;
    let mut runs = Vec::new();
    for size in &plan.sizes {
        eprintln!(
            "bench: control plane with {} services, {} endpoints, {} sidecars",
            size.services, size.endpoints, size.proxies
        );
        let run = match measure_size(plan, options, *size, &runtime) {
            Ok(run) => run,
            Err(error) => Run::failed(*size, format!("{error:#}")),
        };
        runs.push(run);
    }
    Ok(Report {
        settings: Settings {
            quick,
            debounce_ms: plan.debounce.as_millis() as u64,
            changes: plan.changes,
            churn_rate: plan.churn_rate,
            churn_seconds: plan.churn.as_secs_f64(),
            placement: options.placement.clone(),
            binary: options.binary.display().to_string(),
        },
        runs,
    })
}

fn measure_size(
    plan: &Plan,
    options: &Options,
    size: Size,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Run> {
    let dir = options.dir.join(format!("{}-services", size.services));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    let config_dir = dir.join("mesh");
    let mut mesh = Mesh::generate(
        &config_dir,
        MeshSize {
            services: size.services,
            endpoints: size.endpoints,
            namespaces: NAMESPACES,
        },
    )?;
    let log = dir.join("controlplane.log");
    let mut control_plane = ControlPlane::start(&Launch {
        binary: &options.binary,
        config_dir: &config_dir,
        debounce: plan.debounce,
        cpu: options.cpu,
        log: &log,
        ready_timeout: plan.ready_patience,
    })?;
    let pid = control_plane.pid();
    let rss_before = procfs::read_memory(pid)?.rss_kib;
    let measured = runtime.block_on(async {
        let mut fleet = Fleet::start(control_plane.xds, &mesh, size.proxies);
        eprintln!("bench: initial sync of {} sidecars", size.proxies);
        let sync = fleet.sync(plan.sync_patience).await?;
        let rss_after = procfs::read_memory(pid)?.rss_kib;
        let memory = Memory::new(rss_before, rss_after, sync.synced);
        let mut run = Run::new(size, sync, memory);
        if run.sync.synced == 0 {
            fleet.stop().await;
            return Ok(run);
        }
        eprintln!("bench: {} single endpoint changes", plan.changes);
        let single = Pacing {
            changes: plan.changes,
            gap: plan.debounce * 3,
            wait_for_acks: true,
            patience: plan.change_patience,
        };
        let single = fleet.changes(&mut mesh, single, pid).await;
        run.single = Some(single.context("the single changes failed")?);
        eprintln!(
            "bench: churn, {} endpoint changes per second for {:?}",
            plan.churn_rate, plan.churn
        );
        let churn = Pacing {
            changes: plan.churn_changes(),
            gap: Duration::from_secs(1) / plan.churn_rate.max(1),
            wait_for_acks: false,
            patience: plan.change_patience,
        };
        let churn = fleet.changes(&mut mesh, churn, pid).await;
        run.churn = Some(churn.context("the churn failed")?);
        run.rss_end_kib = procfs::read_memory(pid).ok().map(|m| m.rss_kib);
        fleet.stop().await;
        Ok::<_, anyhow::Error>(run)
    });
    // Sidecars failing together usually means the control plane is gone: say so, and how.
    measured.map_err(|error| match control_plane.exited() {
        Some(status) => error.context(format!(
            "the control plane exited ({status}; its log: {})",
            log.display()
        )),
        None => error,
    })
}
