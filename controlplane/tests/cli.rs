//! The `mesh-controlplane` binary: its help, its version, and how `run` starts, fails and stops.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use mesh_testing::command::{assert_stderr, assert_stdout};

const BIN: &str = env!("CARGO_BIN_EXE_mesh-controlplane");
const ABOUT: &str =
    "The mesh.rs control plane: xDS for the proxies, their SPIFFE certificates, Istio config.";
/// Bounds every wait for the process; it starts and stops in milliseconds.
const PATIENCE: Duration = Duration::from_secs(20);

fn help() -> String {
    format!(
        "{ABOUT}\n\n\
         Usage: mesh-controlplane <COMMAND>\n\n\
         Commands:\n\
         \x20 run   Serve xDS to the proxies from a Kubernetes cluster or from config directories\n\
         \x20 help  Print this message or the help of the given subcommand(s)\n\n\
         Options:\n\
         \x20 -h, --help     Print help\n\
         \x20 -V, --version  Print version\n"
    )
}

#[test]
fn help_says_what_it_is() {
    assert_stdout(Command::new(BIN).arg("--help"), 0, &help());
}

#[test]
fn version_prints_the_crate_version() {
    let version = concat!("mesh-controlplane ", env!("CARGO_PKG_VERSION"), "\n");
    assert_stdout(Command::new(BIN).arg("--version"), 0, version);
}

#[test]
fn without_arguments_it_prints_the_help_and_exits_2() {
    assert_stderr(&mut Command::new(BIN), 2, &help());
}

#[test]
fn a_missing_config_dir_exits_1_naming_it() {
    assert_stderr(
        Command::new(BIN).args(["run", "--config-dir", "/nonexistent"]),
        1,
        "mesh-controlplane: config directory /nonexistent: \
         No such file or directory (os error 2)\n",
    );
}

#[test]
fn without_a_cluster_config_it_exits_1_naming_the_kubeconfig() {
    let mut command = Command::new(BIN);
    command
        .args(["run", "--xds-address=127.0.0.1:0"])
        .args(["--monitoring-address=127.0.0.1:0"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT");
    assert_stderr(
        &mut command,
        1,
        "mesh-controlplane: no cluster config found (name one with --kubeconfig, or serve from \
         files with --config-dir): kubeconfig /nonexistent/kubeconfig (KUBECONFIG): failed to \
         read kubeconfig from '\"/nonexistent/kubeconfig\"': No such file or directory (os \
         error 2); in-cluster: failed to read an incluster environment variable: environment \
         variable not found\n",
    );
}

#[test]
fn a_port_in_use_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let mut command = Command::new(BIN);
    command
        .args(["run", "--config-dir", dir.path().to_str().unwrap()])
        .args(["--xds-address", &address])
        .args(["--monitoring-address", "127.0.0.1:0"]);
    assert_stderr(
        &mut command,
        1,
        &format!(
            "mesh-controlplane: cannot listen on {address} for the xDS server: \
             Address already in use (os error 98)\n"
        ),
    );
}

/// Kills the child if the test fails before it exits.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_stops_it_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let child = Command::new(BIN)
        .args(["run", "--config-dir", dir.path().to_str().unwrap()])
        .args(["--xds-address", "127.0.0.1:0"])
        .args(["--monitoring-address", "127.0.0.1:0"])
        .args(["--log-format", "json"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let stderr = running.0.stderr.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if lines_tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let started = lines.recv_timeout(PATIENCE).expect("a first log line");
    let started: serde_json::Value = serde_json::from_str(&started).unwrap();
    assert_eq!(started["fields"]["message"], "control plane started");

    let pid = running.0.id().to_string();
    let kill = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(kill.success());
    let mut rest = Vec::new();
    while let Ok(line) = lines.recv_timeout(PATIENCE) {
        rest.push(line);
    }
    let status = running.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    let messages: Vec<String> = rest
        .iter()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            line["fields"]["message"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(messages, ["stopping", "control plane stopped"]);
}
