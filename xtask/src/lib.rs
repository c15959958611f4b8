//! The mesh.rs task runner, behind `cargo xtask` (an alias in `.cargo/config.toml`).
//!
//! Each task is a module with a `run` function; `main.rs` only parses the command line.

#![forbid(unsafe_code)]

pub mod bench;
pub mod ci;
pub mod demo;
pub mod e2e;
pub mod generate;

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// The command line of `cargo xtask`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "The mesh.rs task runner: generated files, the CI checks, the local demo, e2e and benchmarks.",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The tasks.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate the CRD manifests in charts/mesh/crds from mesh-common's types.
    Gen {
        /// Change nothing; fail if the committed files differ from what would be generated.
        #[arg(long)]
        check: bool,
    },
    /// Run every check CI runs: fmt, clippy, the generated-file check and the test suite.
    Ci,
    /// Run the bookinfo sample, meshed, on this machine with no cluster, until Ctrl-C.
    Demo,
    /// Run the end-to-end scenario suite on bookinfo in network namespaces (needs root).
    E2e,
    /// Load mesh-proxy, Envoy and a direct connection side by side; report to target/bench.
    Bench(bench::BenchArgs),
}

/// Runs one task from the workspace root, wherever `cargo xtask` was started.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let root = workspace_root()?;
    match cli.command {
        Command::Gen { check: false } => generate::run(&root),
        Command::Gen { check: true } => generate::check(&root),
        Command::Ci => ci::run(&root),
        Command::Demo => demo::run(&root),
        Command::E2e => e2e::run(&root),
        Command::Bench(args) => bench::run(&root, &args),
    }
}

/// The workspace root: the parent of this crate's directory. Taken from where xtask was built,
/// not from the current directory, so that `cargo xtask` works from any subdirectory.
pub fn workspace_root() -> anyhow::Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("the xtask crate has no parent directory")
}
