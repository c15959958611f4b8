//! `cargo xtask demo`: the bookinfo sample, meshed, on this machine with no cluster.
//!
//! Builds the four binaries and runs `meshctl local up -f samples/bookinfo/local.yaml` in the
//! foreground: the control plane in file mode, a mesh-proxy sidecar per workload, the bookinfo
//! services and an ingress gateway on 127.0.0.1:8080. Ctrl-C stops everything and removes what
//! it created. meshctl picks the mode: as root, a network namespace per workload with real
//! traffic capture; otherwise explicit-proxy mode, on loopback, with no capture.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

/// The packages whose binaries the local mesh runs.
const PACKAGES: &[&str] = &["mesh-proxy", "mesh-controlplane", "meshctl", "bookinfo"];

/// The LocalMesh file of the bookinfo sample, relative to the workspace root.
pub const BOOKINFO: &str = "samples/bookinfo/local.yaml";

/// Builds the binaries and runs the local mesh until Ctrl-C.
pub fn run(root: &Path) -> anyhow::Result<()> {
    build_binaries(root)?;
    let meshctl = target_dir(root).join("debug").join("meshctl");
    println!("==> {}", mode_message(is_root()));
    let mut up = Command::new(&meshctl);
    up.current_dir(root).args(["local", "up", "-f", BOOKINFO]);
    println!("==> meshctl local up -f {BOOKINFO}   (Ctrl-C stops it)");
    let status = up
        .status()
        .with_context(|| format!("running {}", meshctl.display()))?;
    if !status.success() {
        bail!("meshctl local up failed ({status})");
    }
    Ok(())
}

/// Which mode meshctl is about to pick, and why.
fn mode_message(root: bool) -> &'static str {
    if root {
        "root: namespace mode, each workload in its own network namespace with its traffic \
         captured by its sidecar"
    } else {
        "not root: explicit-proxy mode, workloads on loopback sending their calls to their own \
         sidecar, no traffic capture (with sudo, meshctl runs the namespace mode)"
    }
}

/// Builds the binaries the local mesh runs, in the debug profile.
pub(crate) fn build_binaries(root: &Path) -> anyhow::Result<()> {
    println!("==> building {}", PACKAGES.join(", "));
    let mut build = cargo_in(root);
    build.arg("build");
    for package in PACKAGES {
        build.args(["-p", package]);
    }
    let status = build.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build failed");
    }
    Ok(())
}

/// A cargo command run from the workspace root.
pub(crate) fn cargo_in(root: &Path) -> Command {
    let mut command = Command::new(cargo());
    command.current_dir(root);
    // `cargo run` told xtask about its own package; passed on, that would look like a changed
    // environment to build scripts and rebuild what the last build already built.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_") || name.starts_with("CARGO_MANIFEST_") {
            command.env_remove(name.as_ref());
        }
    }
    command
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Where cargo puts the binaries: `CARGO_TARGET_DIR`, else the workspace's `target/`.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Whether this process runs as root, read from `/proc` (the standard library has no safe call).
pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_runs_the_bookinfo_file_that_exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(root.join(BOOKINFO).is_file());
    }

    #[test]
    fn the_demo_says_which_mode_and_why() {
        assert_eq!(
            mode_message(true),
            "root: namespace mode, each workload in its own network namespace with its traffic \
             captured by its sidecar"
        );
        assert_eq!(
            mode_message(false),
            "not root: explicit-proxy mode, workloads on loopback sending their calls to their \
             own sidecar, no traffic capture (with sudo, meshctl runs the namespace mode)"
        );
    }
}
