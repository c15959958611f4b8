//! The `meshctl local` commands.

use std::{
    io::Write,
    path::PathBuf,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::Duration,
};

use clap::{Args, Subcommand, ValueEnum};
use tokio::signal::unix::{SignalKind, signal};

pub use super::applied::{apply_config, delete_config};
use super::{
    LocalError, LocalMesh, down, env, io, is_root,
    logs::{self, LogsOptions},
    plan::{Mode, WorkloadPlan},
    state::{Role, State, StateDir, default_state_dir},
    status,
    up::{self, UpOptions, ready::parse_timeout},
};

/// `meshctl local`'s arguments.
#[derive(Debug, Args)]
pub struct LocalArgs {
    /// The state directory [default: /run/mesh-rs/local as root, else
    /// $XDG_STATE_HOME/mesh-rs/local]
    #[arg(long, global = true, value_name = "DIR", env = "MESH_LOCAL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: LocalCommand,
}

/// The `meshctl local` commands.
#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Run the mesh a LocalMesh file describes: control plane, sidecars, workloads, gateway.
    Up {
        /// A LocalMesh file; repeat to combine several.
        #[arg(short = 'f', long = "file", required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Return once everything is ready, leaving it running.
        #[arg(short, long)]
        detach: bool,
        /// How long the sidecars, the workloads and the ingress gateway get to be ready (e.g.
        /// 90s, 2m); past it `up` names what is not, shows the end of its log, and stops the
        /// mesh.
        #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_timeout)]
        timeout: Duration,
        /// Return (or run on) once everything has started, without waiting for it to be ready.
        #[arg(long, conflicts_with = "timeout")]
        no_wait: bool,
        /// Only the network and the workloads: no control plane, no proxies.
        #[arg(long, hide = true)]
        no_mesh: bool,
        /// How workloads run: `namespaces` (a network namespace each, traffic captured; needs
        /// root) or `explicit` (on loopback, outbound HTTP through their sidecar as
        /// `http_proxy`). [default: namespaces as root, else explicit]
        #[arg(long, value_enum, value_name = "MODE")]
        mode: Option<Mode>,
    },
    /// Stop everything and remove the namespaces, links, rules and files of the mesh.
    Down,
    /// List the workloads, their processes and their proxies' sync state.
    Status {
        /// The output format.
        #[arg(short, long, value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Apply Istio config files (or every file in a directory) to the running mesh.
    Apply {
        /// A file or directory; repeat for several.
        #[arg(short = 'f', long = "file", required = true, value_name = "FILE|DIR")]
        files: Vec<PathBuf>,
    },
    /// Remove Istio config applied with `apply`.
    Delete {
        /// A file or directory given to `apply`; repeat for several.
        #[arg(short = 'f', long = "file", required = true, value_name = "FILE|DIR")]
        files: Vec<PathBuf>,
    },
    /// Run a command in a workload's network namespace (or with its proxy settings in explicit
    /// mode), as `kubectl exec` would.
    Exec {
        /// The workload.
        workload: String,
        /// The command and its arguments.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Print a workload's log, or its proxy's.
    Logs {
        /// The workload (or `controlplane`, or `ingressgateway` with --proxy).
        workload: String,
        /// The proxy's log instead of the workload's.
        #[arg(long)]
        proxy: bool,
        /// Keep printing what is appended to the log, until Ctrl-C or until the process has
        /// exited and its log is printed to the end.
        #[arg(short, long)]
        follow: bool,
        /// Print only the last N lines of the log first.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
    },
}

/// How `status` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Yaml,
}

/// Runs a `meshctl local` command; returns the exit code.
pub fn run(args: LocalArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let dir = StateDir::new(
        args.state_dir
            .unwrap_or_else(|| default_state_dir(is_root())),
    );
    match args.command {
        LocalCommand::Up {
            files,
            detach,
            no_mesh,
            mode,
            timeout,
            no_wait,
        } => {
            let mesh = LocalMesh::read(&files)?;
            let signals = StopSignals::catch()?;
            let options = UpOptions {
                mesh: !no_mesh,
                mode,
                ready_timeout: (!no_wait).then_some(timeout),
                ..UpOptions::new(&dir.root)
            };
            let running = match up::up_unless(&mesh, &options, out, &signals.stopped) {
                // Everything started was stopped and removed on the way out of `up`.
                Err(LocalError::Interrupted { what }) => {
                    writeln!(
                        out,
                        "interrupted while waiting for {what}: stopped, and everything removed"
                    )?;
                    return Ok(130);
                }
                running => running?,
            };
            writeln!(out, "\n{}", summary(running.state()))?;
            if detach {
                writeln!(out, "stop it with: meshctl local down")?;
                running.detach();
                return Ok(0);
            }
            writeln!(out, "Ctrl-C stops the mesh.")?;
            signals.wait();
            writeln!(out, "stopping...")?;
            running.down()?;
            writeln!(out, "✔ stopped, and everything removed")?;
        }
        LocalCommand::Down => {
            if down::down(&dir)? {
                writeln!(out, "✔ stopped, and everything removed")?;
            } else {
                writeln!(out, "no local mesh runs from {}", dir.root.display())?;
            }
        }
        LocalCommand::Status { output } => {
            let state = dir.require()?;
            let syncz = match &state.monitoring {
                Some(url) => status::fetch_syncz(url.trim_start_matches("http://")),
                None => Ok(serde_json::Value::Null),
            };
            let status = status::status(&state, syncz);
            match output {
                OutputFormat::Table => write!(out, "{}", status::table(&status))?,
                OutputFormat::Json => {
                    writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?;
                }
                OutputFormat::Yaml => write!(out, "{}", serde_saphyr::to_string(&status)?)?,
            }
        }
        LocalCommand::Apply { files } => {
            dir.require()?;
            for path in &files {
                for applied in apply_config(&dir, path)? {
                    writeln!(out, "✔ applied {}", applied.display())?;
                }
            }
        }
        LocalCommand::Delete { files } => {
            dir.require()?;
            for path in &files {
                for deleted in delete_config(&dir, path)? {
                    writeln!(out, "✔ deleted {}", deleted.display())?;
                }
            }
        }
        LocalCommand::Exec { workload, command } => {
            let state = dir.require()?;
            return Ok(exec(&state, &workload, &command)?);
        }
        LocalCommand::Logs {
            workload,
            proxy,
            follow,
            tail,
        } => {
            let state = dir.require()?;
            let options = LogsOptions {
                proxy,
                follow,
                tail,
            };
            logs::logs(&state, &workload, options, out)?;
        }
    }
    Ok(0)
}

pub(super) fn unknown_workload(state: &State, name: &str) -> LocalError {
    let known: Vec<&str> = state
        .plan
        .workloads
        .iter()
        .map(|w| w.name.as_str())
        .collect();
    LocalError::UnknownWorkload {
        name: name.to_string(),
        known: known.join(", "),
    }
}

/// What `up` prints once everything runs.
pub fn summary(state: &State) -> String {
    let mut rows = vec![[
        "WORKLOAD".to_string(),
        "NAMESPACE".to_string(),
        "IP".to_string(),
        "PROXY ADMIN".to_string(),
        "LOG".to_string(),
    ]];
    for pod in &state.plan.workloads {
        let find = |role| {
            state
                .processes
                .iter()
                .find(|p| p.name == pod.name && p.role == role)
        };
        rows.push([
            pod.name.clone(),
            pod.namespace.clone(),
            pod.ip.to_string(),
            find(Role::Proxy)
                .and_then(|p| p.admin.clone())
                .unwrap_or_else(|| "-".to_string()),
            find(Role::Workload).map_or(String::new(), |p| p.log.display().to_string()),
        ]);
    }
    let mut widths = [0; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        text.push_str(cells.join("  ").trim_end());
        text.push('\n');
    }
    if let Some(gateway) = &state.gateway {
        text.push_str(&format!("\ningress gateway: {gateway}/productpage\n"));
    }
    if state.plan.mode == Mode::Explicit {
        text.push_str(
            "explicit-proxy mode: a workload's HTTP calls go through its own sidecar \
             (http_proxy); the callee's sidecar is not in the path\n",
        );
    }
    if let Some(monitoring) = &state.monitoring {
        text.push_str(&format!("control plane:   {monitoring}/debug/syncz\n"));
    }
    text
}

/// Ctrl-C and SIGTERM, caught from before `up` starts: one that arrives while the mesh is
/// coming up sets `stopped`, which `up` notices while it waits for readiness (and tears down
/// what it started), instead of killing meshctl halfway and leaving the rest to `down`; one
/// that arrives later stops the running mesh.
struct StopSignals {
    // Runs the task that waits for the signals.
    _runtime: tokio::runtime::Runtime,
    stopped: Arc<AtomicBool>,
    received: mpsc::Receiver<()>,
}

impl StopSignals {
    fn catch() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let (mut interrupt, mut terminate) = runtime.block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })?;
        let stopped = Arc::new(AtomicBool::new(false));
        let (sender, received) = mpsc::channel();
        let flag = Arc::clone(&stopped);
        runtime.spawn(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            flag.store(true, Ordering::SeqCst);
            // Nobody waits once `up` has failed or detached.
            let _ = sender.send(());
        });
        Ok(Self {
            _runtime: runtime,
            stopped,
            received,
        })
    }

    fn wait(self) {
        // The sender goes only with the runtime, which `self` holds.
        let _ = self.received.recv();
    }
}

/// Runs `command` in `workload`'s network namespace (in explicit mode: with its sidecar as the
/// HTTP proxy) with the pod's environment; returns its exit code.
pub fn exec(state: &State, workload: &str, command: &[String]) -> Result<i32, LocalError> {
    let status = exec_command(state, workload, command)?
        .status()
        .map_err(io(format!("run {} for {workload}", command.join(" "))))?;
    // A command killed by a signal exits like a shell reports it.
    Ok(status.code().unwrap_or(128))
}

/// The command that runs `command` as [`exec`] does, for callers that want its output.
pub fn exec_command(
    state: &State,
    workload: &str,
    command: &[String],
) -> Result<Command, LocalError> {
    let pod = pod(state, workload)?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| LocalError::Config("exec needs a command".into()))?;
    let mut exec = match state.plan.mode {
        Mode::Namespaces => {
            let mut exec = Command::new("ip");
            exec.args(["netns", "exec", &pod.netns]).arg(program);
            exec
        }
        Mode::Explicit => Command::new(program),
    };
    exec.args(args).envs(env::pod_env(&state.plan, pod));
    Ok(exec)
}

fn pod<'a>(state: &'a State, workload: &str) -> Result<&'a WorkloadPlan, LocalError> {
    state
        .plan
        .workload(workload)
        .ok_or_else(|| unknown_workload(state, workload))
}

#[cfg(test)]
mod tests;
