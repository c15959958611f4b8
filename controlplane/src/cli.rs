//! The command line of `mesh-controlplane`, and [`run`], what `mesh-controlplane run` does.

use std::{
    future::Future, io::IsTerminal, net::SocketAddr, path::PathBuf, process::ExitCode,
    time::Duration,
};

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

use crate::{
    mesh_config::{MeshConfig, MeshConfigError},
    server::{Config, ControlPlane, KubeSource, RunError, Source, StartError},
};

/// `mesh-controlplane`'s arguments. Run without arguments, it prints its help and exits with
/// status 2.
#[derive(Debug, Parser)]
#[command(
    name = "mesh-controlplane",
    version,
    about = "The mesh.rs control plane: xDS for the proxies, their SPIFFE certificates, Istio config.",
    arg_required_else_help = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve xDS to the proxies from a Kubernetes cluster or from config directories.
    Run(RunArgs),
}

/// `mesh-controlplane run`.
#[derive(Clone, Debug, PartialEq, ClapArgs)]
pub struct RunArgs {
    /// A directory of YAML or JSON config (Istio resources, Services, EndpointSlices, Pods),
    /// read with its subdirectories and watched for changes. Repeatable. Without it, the
    /// control plane watches a Kubernetes cluster.
    #[arg(long = "config-dir", value_name = "DIR")]
    pub config_dirs: Vec<PathBuf>,
    /// The kubeconfig of the cluster to watch; `KUBECONFIG`, `~/.kube/config` or the pod's
    /// service account without it.
    #[arg(long, value_name = "FILE", conflicts_with = "config_dirs")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of its current one.
    #[arg(long, value_name = "NAME", conflicts_with = "config_dirs")]
    pub context: Option<String>,
    /// Where the plaintext xDS (ADS) server listens.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:15010")]
    pub xds_address: SocketAddr,
    /// Where the monitoring server (/ready, /metrics, /debug) listens.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:15014")]
    pub monitoring_address: SocketAddr,
    /// The debounce window (`100ms`, `1s`): a change is read and pushed once no change has come
    /// for this long (at most 1 s after the first of a burst); an endpoint change (an
    /// EndpointSlice or a Pod) after a quiet window goes at once, unless --debounce-endpoints.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration)]
    pub debounce: Duration,
    /// Endpoint changes wait for the debounce window as config changes do (Istio's default,
    /// PILOT_ENABLE_EDS_DEBOUNCE=true): fewer pushes, each endpoint change a window later.
    #[arg(long)]
    pub debounce_endpoints: bool,
    /// Istio's MeshConfig, as YAML; Istio's defaults without it.
    #[arg(long, value_name = "FILE")]
    pub mesh_config: Option<PathBuf>,
    /// What to log: a level (`info`) or a tracing filter (`info,mesh_controlplane=debug`).
    #[arg(long, value_name = "FILTER", env = "RUST_LOG", default_value = "info")]
    pub log_level: String,
    /// How log lines are written.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// Why `run` failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    MeshConfig(#[from] MeshConfigError),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error("invalid --log-level {filter:?}: {reason}")]
    LogFilter { filter: String, reason: String },
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

// === impl RunArgs ===

impl RunArgs {
    /// The control plane's configuration; reads the mesh config file.
    pub fn config(&self) -> Result<Config, CliError> {
        let mesh = match &self.mesh_config {
            Some(path) => MeshConfig::read(path)?,
            None => MeshConfig::default(),
        };
        let source = if self.config_dirs.is_empty() {
            Source::Kubernetes(KubeSource {
                kubeconfig: self.kubeconfig.clone(),
                context: self.context.clone(),
            })
        } else {
            Source::ConfigDirs(self.config_dirs.clone())
        };
        Ok(Config {
            source,
            xds_address: self.xds_address,
            monitoring_address: self.monitoring_address,
            debounce: self.debounce,
            debounce_endpoints: self.debounce_endpoints,
            mesh,
        })
    }
}

/// Starts the control plane, serves until `shutdown` resolves and stops it gracefully.
pub async fn run(args: &RunArgs, shutdown: impl Future<Output = ()>) -> Result<(), CliError> {
    let control_plane = ControlPlane::start(args.config()?).await?;
    control_plane.run_until(shutdown).await?;
    Ok(())
}

/// What the binary does with its arguments: 0 after a clean stop, 1 when the control plane
/// cannot start or fails.
pub fn execute(args: Args) -> ExitCode {
    let Command::Run(run_args) = args.command;
    let result = init_logging(&run_args).and_then(|()| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(CliError::Runtime)?;
        runtime.block_on(async { run(&run_args, shutdown_signal()).await })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("mesh-controlplane: {error}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(args: &RunArgs) -> Result<(), CliError> {
    let filter = EnvFilter::try_new(&args.log_level).map_err(|error| CliError::LogFilter {
        filter: args.log_level.clone(),
        reason: error.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // Only fails if a subscriber is already set, which then keeps logging.
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends to stop a pod). The handlers are
/// installed when this is called, not when the future is first polled: a signal that comes
/// while the control plane starts must stop it, not kill it. Call within the runtime.
#[cfg(unix)]
fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    // Without a handler (an error here is only possible outside a runtime), that signal keeps
    // its default action.
    let interrupt = signal(SignalKind::interrupt()).ok();
    let terminate = signal(SignalKind::terminate()).ok();
    async fn received(signal: Option<Signal>) {
        match signal {
            Some(mut signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    async move {
        tokio::select! {
            () = received(interrupt) => {}
            () = received(terminate) => {}
        }
        tracing::info!("stopping");
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> impl Future<Output = ()> {
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("stopping");
    }
}

/// Parses `250ms`, `2s`, `1m` or `1.5s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration such as 100ms, 2s or 1m");
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let seconds = match unit {
        "us" | "µs" => number / 1_000_000.0,
        "ms" => number / 1_000.0,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3_600.0,
        _ => return Err(invalid()),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| invalid())
}

#[cfg(test)]
mod tests;
