//! The state directory: what an instance created and runs, in `state.json`, so that `down`,
//! `status`, `logs`, `exec`, `apply` and `delete` work from another invocation, and `down`
//! cleans up after a crash.
//!
//! ```text
//! <state>/state.json              the instance: plan, processes, rules added
//! <state>/config/local/<ns>.yaml  the mesh as Kubernetes objects, for the control plane
//! <state>/config/user/            Istio config from `config:` and `meshctl local apply`
//! <state>/proxies/<workload>.yaml the proxies' bootstraps
//! <state>/logs/<workload>.log     each workload's output (`.proxy.log` for its sidecar)
//! ```

use std::{
    env, fs,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use super::{LocalError, io, plan::Plan};

/// The file in the state directory that describes the instance.
pub const STATE_FILE: &str = "state.json";

/// A running local mesh, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub plan: Plan,
    /// False when only the network and the workloads run (no control plane, no proxies).
    pub mesh: bool,
    /// The bridge whose FORWARD rule was added, when the host needed one.
    pub forward_rule: Option<String>,
    /// Every process started, in start order.
    pub processes: Vec<ProcessRecord>,
    /// The control plane's monitoring address, when it runs.
    pub monitoring: Option<String>,
    /// The ingress gateway's URL, when it runs.
    pub gateway: Option<String>,
}

/// One process started by `up`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// `controlplane`, `gateway`, or the workload's name.
    pub name: String,
    pub role: Role,
    /// Also its process group: every process is started as a group leader.
    pub pid: u32,
    /// The kernel's start time of the process, so that a reused pid is never signalled.
    pub start_time: u64,
    pub log: PathBuf,
    /// The proxy's admin address (inside the workload's namespace for a sidecar).
    pub admin: Option<String>,
}

/// What a process is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    ControlPlane,
    Gateway,
    Proxy,
    Workload,
}

/// The default state directory: `/run/mesh-rs/local` for root (readable by the proxies'
/// user, which a home directory is not, and gone after a reboot like the namespaces), else
/// `$XDG_STATE_HOME/mesh-rs/local` or `~/.local/state/mesh-rs/local`.
pub fn default_state_dir(root: bool) -> PathBuf {
    if root {
        return PathBuf::from("/run/mesh-rs/local");
    }
    if let Some(state) = env::var_os("XDG_STATE_HOME").filter(|s| !s.is_empty()) {
        return PathBuf::from(state).join("mesh-rs/local");
    }
    let home = env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".local/state/mesh-rs/local")
}

/// The paths inside one state directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDir {
    pub root: PathBuf,
}

// === impl StateDir ===

impl StateDir {
    /// The state directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn state_file(&self) -> PathBuf {
        self.root.join(STATE_FILE)
    }

    /// The directory the control plane reads.
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("config")
    }

    /// The rendered Kubernetes objects.
    pub fn local_config_dir(&self) -> PathBuf {
        self.config_dir().join("local")
    }

    /// The user's Istio config.
    pub fn user_config_dir(&self) -> PathBuf {
        self.config_dir().join("user")
    }

    pub fn proxies_dir(&self) -> PathBuf {
        self.root.join("proxies")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    /// The log of a workload, or of its proxy.
    pub fn log(&self, name: &str, proxy: bool) -> PathBuf {
        let suffix = if proxy { ".proxy.log" } else { ".log" };
        self.logs_dir().join(format!("{name}{suffix}"))
    }

    /// The recorded state, or `None` when no instance is recorded here.
    pub fn load(&self) -> Result<Option<State>, LocalError> {
        let path = self.state_file();
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(format!("read {}", path.display()))(e)),
        };
        serde_json::from_str(&text).map(Some).map_err(|e| {
            LocalError::Config(format!(
                "{} is not a local mesh state file: {e}",
                path.display()
            ))
        })
    }

    /// The recorded state; an error saying how to start one when there is none.
    pub fn require(&self) -> Result<State, LocalError> {
        self.load()?.ok_or_else(|| LocalError::NotUp {
            state_dir: self.root.clone(),
        })
    }

    /// Records the state, replacing the file in one rename so that a crash never leaves half
    /// of it.
    pub fn save(&self, state: &State) -> Result<(), LocalError> {
        let path = self.state_file();
        let temporary = self.root.join(format!(".{STATE_FILE}.tmp"));
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| LocalError::Config(format!("cannot serialize the state: {e}")))?;
        write_atomically(&temporary, &path, &text)
    }

    /// Forgets the instance; the logs stay for a post-mortem.
    pub fn clear(&self) -> Result<(), LocalError> {
        for dir in [self.config_dir(), self.proxies_dir()] {
            if dir.exists() {
                fs::remove_dir_all(&dir).map_err(io(format!("remove {}", dir.display())))?;
            }
        }
        let path = self.state_file();
        if path.exists() {
            fs::remove_file(&path).map_err(io(format!("remove {}", path.display())))?;
        }
        Ok(())
    }
}

/// Writes `text` to `temporary`, then renames it to `path`.
pub fn write_atomically(temporary: &Path, path: &Path, text: &str) -> Result<(), LocalError> {
    fs::write(temporary, text).map_err(io(format!("write {}", temporary.display())))?;
    fs::rename(temporary, path).map_err(io(format!("rename to {}", path.display())))
}
