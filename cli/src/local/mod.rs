//! `meshctl local`: a whole mesh on one machine, without Kubernetes.
//!
//! As root, each workload runs in its own network namespace ("pod") with a veth into one
//! bridge, its sidecar proxy beside it behind `mesh-proxy init`'s capture rules. Without root
//! (explicit mode), each workload and its sidecar get a loopback address of their own, and the
//! workload sends its outbound HTTP to the sidecar as an explicit proxy. Either way the control
//! plane reads the mesh as Kubernetes objects from a directory, and an ingress gateway listens
//! on localhost.
//! Everything `up` creates is recorded in the state directory's `state.json` first, so that
//! `down` removes it from any later invocation, even after a crash.
//!
//! - [`spec`]: the `LocalMesh` file;
//! - [`plan`]: the mode, names and addresses;
//! - [`env`]: the workloads' environment and the expansion of `$(VAR)` in their commands;
//! - [`render`]: the Kubernetes objects and hosts files;
//! - [`net`]: network namespaces, veths, the bridge and the FORWARD rule;
//! - [`process`]: starting and stopping processes, finding binaries;
//! - [`state`]: the state directory;
//! - [`up`] and [`down`]: bringing an instance up and down;
//! - [`status`]: what runs and how far each proxy is synced;
//! - [`logs`]: the processes' logs, whole, their last lines, or followed;
//! - [`cli`]: the `meshctl local` commands.

pub mod applied;
pub mod cli;
pub mod down;
pub mod env;
pub mod logs;
pub mod net;
pub mod plan;
pub mod process;
pub mod render;
mod restart;
pub mod spec;
pub mod state;
pub mod status;
pub mod up;

use std::path::PathBuf;

pub use self::{
    down::down,
    spec::LocalMesh,
    up::{Running, UpOptions, up},
};

/// Why a local mesh operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(
        "meshctl local's namespace mode needs root: it creates network namespaces, a bridge and \
         iptables rules (run it with sudo, or use --mode explicit)"
    )]
    NotRoot,
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
    #[error(transparent)]
    Render(#[from] render::RenderError),
    #[error("`{command}` failed: {reason}")]
    Command { command: String, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot find `{name}` next to meshctl or on PATH: `cargo build --workspace` builds it")]
    MissingBinary { name: String },
    #[error(
        "{} already holds local mesh {id}: run `meshctl local down` first",
        state_dir.display()
    )]
    AlreadyUp { state_dir: PathBuf, id: String },
    #[error("no local mesh runs from {}: start one with `meshctl local up`", state_dir.display())]
    NotUp { state_dir: PathBuf },
    #[error("no workload {name} in this mesh (there are: {known})")]
    UnknownWorkload { name: String, known: String },
    #[error("{0}")]
    Config(String),
    #[error(
        "{what} was not ready within {}: {reason}\n{}",
        up::ready::words(*timeout),
        up::ready::log_note(log, tail)
    )]
    NotReady {
        what: String,
        timeout: std::time::Duration,
        /// What the last check saw.
        reason: String,
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    #[error(
        "{what} exited before it was ready ({status})\n{}",
        up::ready::log_note(log, tail)
    )]
    Exited {
        what: String,
        status: String,
        log: PathBuf,
        /// The last lines of the log.
        tail: String,
    },
    #[error("interrupted while waiting for {what} to be ready")]
    Interrupted { what: String },
}

/// Shorthand for an I/O error with what was being done.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LocalError {
    let what = what.into();
    move |source| LocalError::Io { what, source }
}

/// True when this process runs as root (effective uid 0), read from `/proc` since the standard
/// library has no safe call for it.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
