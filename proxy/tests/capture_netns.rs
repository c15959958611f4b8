//! `mesh-proxy init` with real iptables, in two network namespaces made for the test: a "pod"
//! (198.18.0.2) and a "service" (198.19.0.10:9080) joined by a veth pair.
//!
//! Needs root, `ip` (iproute2) and the iptables tools; without them it prints `SKIPPED: …` and
//! passes. The capture probe is this crate's `capture_probe` example, which `cargo test` builds.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const MESH_PROXY: &str = env!("CARGO_BIN_EXE_mesh-proxy");
const POD_IP: &str = "198.18.0.2";
const SERVICE: &str = "198.19.0.10:9080";

/// The namespaces and servers of one run, removed however the test ends.
struct Lab {
    pod: String,
    svc: String,
    servers: Vec<Child>,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
        for ns in [&self.pod, &self.svc] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

impl Lab {
    fn new() -> Self {
        let pid = std::process::id();
        let lab = Self {
            pod: format!("mesh-cap-{pid}"),
            svc: format!("mesh-svc-{pid}"),
            servers: Vec::new(),
        };
        let (pod, svc) = (lab.pod.as_str(), lab.svc.as_str());
        for ns in [pod, svc] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&[
            "-n", pod, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", svc,
        ]);
        for (ns, addr, peer) in [
            (pod, "198.18.0.2/16", "198.19.0.0/16"),
            (svc, "198.19.0.10/16", "198.18.0.0/16"),
        ] {
            ip(&["-n", ns, "addr", "add", addr, "dev", "eth0"]);
            ip(&["-n", ns, "link", "set", "eth0", "up"]);
            ip(&["-n", ns, "route", "add", peer, "dev", "eth0"]);
        }
        lab
    }

    /// Runs `program args` in namespace `ns` and returns its stdout; panics on failure.
    fn exec(&self, ns: &str, program: &str, args: &[&str]) -> String {
        let output = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .output()
            .expect("ip netns exec runs");
        assert!(
            output.status.success(),
            "{program} {args:?} in {ns}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("output is UTF-8")
    }

    /// Starts a probe server in `ns` and waits until it listens.
    fn serve(&mut self, ns: &str, addr: &str, name: &str) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(probe())
            .args(["serve", addr, name, "1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("the probe starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout is piped"))
            .read_line(&mut line)
            .expect("the probe writes a line");
        self.servers.push(child);
        assert_eq!(line, "listening\n", "{name} on {addr}");
    }

    /// The `nat` table of the pod, without iptables-save's timestamp comments.
    fn nat_table(&self) -> String {
        self.exec(&self.pod, "iptables-save", &["-t", "nat"])
            .lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| format!("{line}\n"))
            .collect()
    }
}

fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().expect("ip runs");
    assert!(status.success(), "ip {args:?}");
}

fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(binary).is_file()))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// The `capture_probe` example, beside this test's own binary.
fn probe() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let probe = dir.join("examples").join("capture_probe");
    assert!(
        probe.is_file(),
        "{} is missing: build it with `cargo build -p mesh-proxy --example capture_probe`",
        probe.display()
    );
    probe
}

fn skip_reason() -> Option<String> {
    if !is_root() {
        return Some("not running as root".to_owned());
    }
    let missing: Vec<&str> = ["ip", "iptables", "iptables-restore", "iptables-save"]
        .into_iter()
        .filter(|binary| !on_path(binary))
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{} not found (Debian: apt-get install iproute2 iptables)",
            missing.join(", ")
        )
    })
}

#[test]
fn init_captures_traffic_in_a_network_namespace() {
    if let Some(reason) = skip_reason() {
        // Straight to the process's stderr: the test harness hides what `eprintln!` prints.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: capture_netns needs root, ip and iptables: {reason}"
        );
        return;
    }
    let probe = probe();
    let mut lab = Lab::new();
    let (pod, svc) = (lab.pod.clone(), lab.svc.clone());

    // Idempotent: a second init leaves exactly the rules of the first.
    lab.exec(&pod, MESH_PROXY, &["init"]);
    let first = lab.nat_table();
    lab.exec(&pod, MESH_PROXY, &["init"]);
    assert_eq!(lab.nat_table(), first);
    let jumps: Vec<&str> = first.lines().filter(|l| l.contains("-j MESH_")).collect();
    assert_eq!(
        jumps.iter().filter(|l| l.starts_with("-A OUTPUT ")).count(),
        1,
        "{first}"
    );
    assert_eq!(
        jumps
            .iter()
            .filter(|l| l.starts_with("-A PREROUTING "))
            .count(),
        1
    );

    lab.serve(&pod, "0.0.0.0:15001", "outbound");
    lab.serve(&pod, "0.0.0.0:15006", "inbound");
    lab.serve(&pod, "127.0.0.1:9080", "local");
    lab.serve(&svc, SERVICE, "upstream");
    let probe = probe.to_str().unwrap();

    // The application's outbound connection reaches the proxy, which sees where it was going.
    assert_eq!(
        lab.exec(&pod, probe, &["connect", SERVICE]),
        "outbound 198.19.0.10:9080\n"
    );
    // The proxy's own connection (uid 1337) goes out as it is.
    let as_proxy = lab.exec(
        &pod,
        "setpriv",
        &[
            "--reuid=1337",
            "--regid=1337",
            "--clear-groups",
            probe,
            "connect",
            SERVICE,
        ],
    );
    assert!(as_proxy.starts_with("upstream "), "{as_proxy}");
    // Loopback is not captured.
    let local = lab.exec(&pod, probe, &["connect", "127.0.0.1:9080"]);
    assert!(local.starts_with("local "), "{local}");
    // A connection into the pod reaches the inbound port, with its original destination.
    let inbound = format!("{POD_IP}:9080");
    assert_eq!(
        lab.exec(&svc, probe, &["connect", &inbound]),
        "inbound 198.18.0.2:9080\n"
    );
    for server in &mut lab.servers {
        assert!(server.wait().unwrap().success());
    }

    lab.exec(&pod, MESH_PROXY, &["init", "--cleanup"]);
    let cleaned = lab.nat_table();
    assert!(!cleaned.contains("MESH"), "{cleaned}");
    // Cleaning up twice finds nothing to remove.
    lab.exec(&pod, MESH_PROXY, &["init", "--cleanup"]);
    assert_eq!(lab.nat_table(), cleaned);
}
