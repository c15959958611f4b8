//! `cargo xtask e2e`: the end-to-end scenario suite on the local substrate.
//!
//! Builds the binaries the local mesh runs, then runs the `mesh-e2e` tests, which bring up
//! bookinfo in network namespaces and run every scenario on it. Network namespaces need root,
//! and the suite skips without it, so this task refuses to run as anyone else rather than
//! report a pass that tested nothing.

use std::path::Path;

use anyhow::{Context, bail};

use crate::demo::{build_binaries, cargo_in, is_root};

/// Builds the binaries and runs the scenario suite.
pub fn run(root: &Path) -> anyhow::Result<()> {
    if !is_root() {
        bail!(
            "the e2e suite creates network namespaces and needs root: \
             run `sudo -E env PATH=\"$PATH\" cargo xtask e2e`"
        );
    }
    build_binaries(root)?;
    let mut test = cargo_in(root);
    test.args(["test", "-p", "mesh-e2e", "--locked", "--", "--nocapture"]);
    println!("==> cargo test -p mesh-e2e");
    let status = test.status().context("running cargo test")?;
    if !status.success() {
        bail!("the e2e suite failed ({status})");
    }
    Ok(())
}
