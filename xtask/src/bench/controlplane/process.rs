//! The `mesh-controlplane` under test: built in release mode (or given), started in file mode
//! on loopback ports, pinned to its CPU, ready once `/ready` answers 200.

use std::{
    fs::File,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};

use crate::bench::topology::free_port;

/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(100);

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A running control plane. Dropping it kills the process.
#[derive(Debug)]
pub struct ControlPlane {
    /// Its ADS address.
    pub xds: SocketAddr,
    /// Its monitoring address (`/ready`, `/metrics`).
    pub monitoring: SocketAddr,
    child: Child,
}

/// How to start a control plane.
#[derive(Clone, Debug)]
pub struct Launch<'a> {
    /// The `mesh-controlplane` binary.
    pub binary: &'a Path,
    /// The directory of the mesh.
    pub config_dir: &'a Path,
    /// Its `--debounce`.
    pub debounce: Duration,
    /// The CPU to pin it to with `taskset`, if any.
    pub cpu: Option<usize>,
    /// Where its output goes.
    pub log: &'a Path,
    /// How long it may take to read the mesh and answer `/ready`.
    pub ready_timeout: Duration,
}

// === impl ControlPlane ===

impl ControlPlane {
    /// Starts it and waits until it is ready.
    pub fn start(launch: &Launch<'_>) -> anyhow::Result<ControlPlane> {
        let xds = free_port()?;
        let monitoring = free_port()?;
        let log = File::create(launch.log)
            .with_context(|| format!("creating {}", launch.log.display()))?;
        // `taskset` execs the control plane, so the child's pid is the control plane's.
        let mut command = match launch.cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(launch.binary);
                command
            }
            None => Command::new(launch.binary),
        };
        command
            .arg("run")
            .arg("--config-dir")
            .arg(launch.config_dir)
            .args(["--xds-address", &xds.to_string()])
            .args(["--monitoring-address", &monitoring.to_string()])
            .args(["--debounce", &format!("{}ms", launch.debounce.as_millis())])
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", launch.binary.display()))?;
        let mut control_plane = ControlPlane {
            xds,
            monitoring,
            child,
        };
        control_plane
            .wait_ready(launch)
            .context("the control plane did not become ready")?;
        Ok(control_plane)
    }

    /// The process id, for /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How it ended, if it did: when every sidecar is gone at once, this says why (killed by
    /// the kernel when out of memory shows as `signal: 9 (SIGKILL)`).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn wait_ready(&mut self, launch: &Launch<'_>) -> anyhow::Result<()> {
        let attempts = launch.ready_timeout.as_millis() / POLL.as_millis();
        for _ in 0..attempts.max(1) {
            if let Some(status) = self.child.try_wait()? {
                let output = std::fs::read_to_string(launch.log).unwrap_or_default();
                let tail: Vec<&str> = output.lines().rev().take(10).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                bail!("it exited ({status}):\n{}", tail.join("\n"));
            }
            if status_of(self.monitoring, "/ready").ok() == Some(200) {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
        bail!(
            "no 200 from {}/ready in {:?}",
            self.monitoring,
            launch.ready_timeout
        )
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Builds `mesh-controlplane` with `cargo build --release` and returns the path cargo reports
/// for it (wherever the target directory is).
pub fn build_release(root: &Path) -> Result<PathBuf, String> {
    eprintln!("bench: cargo build --release -p mesh-controlplane");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "mesh-controlplane",
            "--bin",
            "mesh-controlplane",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| format!("cannot run cargo: {error}"))?;
    if !output.status.success() {
        return Err(format!("the release build failed ({})", output.status));
    }
    executable(
        &String::from_utf8_lossy(&output.stdout),
        "mesh-controlplane",
    )
    .ok_or_else(|| "cargo named no mesh-controlplane executable".to_string())
}

/// The executable named `name` among cargo's JSON messages.
pub(crate) fn executable(messages: &str, name: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter(|message| message["target"]["name"] == name)
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
}

/// The status code of `GET path` on `address`.
fn status_of(address: SocketAddr, path: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect_timeout(&address, PROBE_TIMEOUT)?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let head = String::from_utf8_lossy(&answer[..answer.len().min(64)]).into_owned();
    head.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {head:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_executable_comes_from_the_artifact_message() {
        let messages = concat!(
            r#"{"reason":"compiler-artifact","target":{"name":"mesh_common"},"executable":null}"#,
            "\n",
            r#"{"reason":"compiler-artifact","target":{"name":"mesh-controlplane"},"executable":"/t/release/mesh-controlplane"}"#,
            "\n",
            r#"{"reason":"build-finished","success":true}"#,
        );
        assert_eq!(
            executable(messages, "mesh-controlplane"),
            Some(PathBuf::from("/t/release/mesh-controlplane"))
        );
        assert_eq!(executable(messages, "mesh-proxy"), None);
    }
}
