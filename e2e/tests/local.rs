//! The scenario suite on the local substrate: bookinfo meshed in network namespaces with real
//! iptables capture, the control plane in file mode, a sidecar per workload and the ingress
//! gateway on 127.0.0.1:8080.
//!
//! Needs root (it creates network namespaces); CI runs it as root. One test brings the mesh
//! up once and runs every scenario on it: the mesh takes seconds to start and owns fixed ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use mesh_e2e::{local::LocalCluster, scenarios};
use mesh_testing::external::skip_without;
use meshctl::local;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory cargo put the workspace's binaries in, beside this test's own `deps/`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_owned()
}

#[test]
fn bookinfo_scenarios_on_network_namespaces() {
    if !local::is_root() {
        skip_without(
            "root",
            "run the e2e suite as root: it creates network namespaces",
        );
        return;
    }
    let cluster = LocalCluster::up(&[repo().join("samples/bookinfo/local.yaml")], &bin_dir())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut failed = Vec::new();
    for (name, scenario) in scenarios::all() {
        match scenario(&cluster) {
            Ok(()) => eprintln!("scenario {name}: ok"),
            Err(error) => {
                eprintln!("scenario {name}: FAILED: {error:#}");
                failed.push(name);
            }
        }
    }
    let id = cluster.id().unwrap();
    cluster.down().unwrap();
    let namespaces = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let namespaces = String::from_utf8_lossy(&namespaces.stdout);
    assert!(!namespaces.contains(&format!("mesh-{id}-")), "{namespaces}");
    assert!(failed.is_empty(), "scenarios failed: {failed:?}");
}
