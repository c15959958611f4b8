//! The scenario suite on the local substrate, in both of `meshctl local`'s modes: bookinfo
//! meshed in network namespaces with real iptables capture, then in explicit mode (workloads on
//! loopback, their calls sent to their own sidecar as an HTTP proxy). Either way the control
//! plane runs in file mode, with a sidecar per workload and the ingress gateway on
//! 127.0.0.1:8080.
//!
//! Needs root (it creates network namespaces); CI runs it as root. One test brings each mesh up
//! once and runs the scenarios on it, one mode after the other: a mesh takes seconds to start
//! and owns fixed ports, and nextest runs test functions side by side.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    time::Duration,
};

use mesh_common::well_known::{control_plane_ports, proxy_ports};
use mesh_e2e::{local::LocalCluster, scenarios};
use mesh_testing::external::skip_without;
use meshctl::local::{
    self,
    plan::Mode,
    process,
    state::State,
    up::{GATEWAY_ADDRESS, GATEWAY_ADMIN, GATEWAY_HEALTH, GATEWAY_METRICS, MONITORING_ADDRESS},
};

/// The files brought up beside bookinfo in the namespace run: the suite's own workloads, for
/// the scenarios that need more than bookinfo (TCP, retries). Add a scenario's file here.
const EXTRA_FILES: &[&str] = &["e2e/manifests/local-extras.yaml"];

/// The scenarios explicit mode can pass, by name. What it cannot: anything that needs the
/// callee's sidecar (inbound metrics, a dead pod's sidecar answering 503) or TCP capture.
const EXPLICIT_SCENARIOS: &[&str] = &[
    "page renders through the gateway",
    "sidecar to sidecar from a pod",
    "default load balancing reaches every reviews version",
    "all traffic to v1",
    "jason to v2, everyone else to v1",
    "reviews 50% v1, 50% v3",
    "reviews 80% v1, 20% v2",
    "the gateway routes reviews by header",
    "ratings delayed for jason: reviews time out",
    "ratings abort for jason: reviews without ratings",
    "a request timeout answers 504 for reviews",
    "circuit breaking turns a burst away",
    "proxies serve through a control-plane restart",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory cargo put the workspace's binaries in, beside this test's own `deps/`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_owned()
}

/// Runs the scenarios `wanted` picks on `cluster`; returns the names of those that failed.
fn run_scenarios(cluster: &LocalCluster, mode: &str, wanted: impl Fn(&str) -> bool) -> Vec<String> {
    let mut failed = Vec::new();
    for (name, scenario) in scenarios::all() {
        if !wanted(name) {
            continue;
        }
        match scenario(cluster) {
            Ok(()) => eprintln!("{mode}: scenario {name}: ok"),
            Err(error) => {
                eprintln!("{mode}: scenario {name}: FAILED: {error:#}");
                failed.push(format!("{mode}: {name}"));
            }
        }
    }
    failed
}

/// Every loopback address the mesh of `state` listened on. The bridge's address is not tried:
/// once the bridge is gone, a connection there would leave the machine.
fn mesh_addresses(state: &State) -> Vec<SocketAddr> {
    let mut addresses: Vec<SocketAddr> = [
        GATEWAY_ADDRESS,
        GATEWAY_ADMIN,
        GATEWAY_HEALTH,
        GATEWAY_METRICS,
        MONITORING_ADDRESS,
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    if state.plan.mode == Mode::Explicit {
        addresses.push(SocketAddr::from((
            state.plan.host_ip,
            control_plane_ports::XDS_PLAINTEXT,
        )));
        for pod in &state.plan.workloads {
            for port in proxy_ports::ALL.iter().chain(&[9080]) {
                addresses.push(SocketAddr::from((pod.ip, *port)));
            }
        }
    }
    addresses
}

/// After `down`: no process of the mesh runs, and nothing listens where it did.
fn assert_nothing_left(state: &State) {
    let running: Vec<_> = state
        .processes
        .iter()
        .filter(|p| process::is_running(p))
        .map(|p| format!("{} ({:?}, pid {})", p.name, p.role, p.pid))
        .collect();
    assert_eq!(running, Vec::<String>::new(), "processes left running");
    let listening: Vec<SocketAddr> = mesh_addresses(state)
        .into_iter()
        .filter(|a| TcpStream::connect_timeout(a, Duration::from_millis(200)).is_ok())
        .collect();
    assert_eq!(listening, Vec::<SocketAddr>::new(), "still listening");
}

#[test]
fn bookinfo_scenarios_in_namespaces_then_in_explicit_mode() {
    if !local::is_root() {
        skip_without(
            "root",
            "run the e2e suite as root: it creates network namespaces",
        );
        return;
    }
    let names: Vec<&str> = scenarios::all::<LocalCluster>()
        .iter()
        .map(|(name, _)| *name)
        .collect();
    let unknown: Vec<&&str> = EXPLICIT_SCENARIOS
        .iter()
        .filter(|n| !names.contains(n))
        .collect();
    assert!(unknown.is_empty(), "no such scenarios: {unknown:?}");

    let bookinfo = repo().join("samples/bookinfo/local.yaml");
    let files: Vec<PathBuf> = std::iter::once(bookinfo.clone())
        .chain(EXTRA_FILES.iter().map(|f| repo().join(f)))
        .collect();
    let cluster = LocalCluster::up(&files, &bin_dir()).unwrap_or_else(|e| panic!("{e}"));
    let mut failed = run_scenarios(&cluster, "namespaces", |_| true);
    let state = cluster.state().unwrap();
    cluster.down().unwrap();
    let namespaces = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let namespaces = String::from_utf8_lossy(&namespaces.stdout);
    let id = &state.plan.id;
    assert!(!namespaces.contains(&format!("mesh-{id}-")), "{namespaces}");
    assert!(!local::net::link_exists(&state.plan.bridge));
    assert_nothing_left(&state);

    let cluster = LocalCluster::up_in(&[bookinfo], &bin_dir(), Mode::Explicit)
        .unwrap_or_else(|e| panic!("{e}"));
    let state = cluster.state().unwrap();
    assert_eq!(state.plan.mode, Mode::Explicit);
    failed.extend(run_scenarios(&cluster, "explicit", |name| {
        EXPLICIT_SCENARIOS.contains(&name)
    }));
    cluster.down().unwrap();
    assert_nothing_left(&state);
    assert!(failed.is_empty(), "scenarios failed: {failed:?}");
}
