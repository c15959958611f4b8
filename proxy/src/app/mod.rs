//! What the binary does with its parsed command line.

mod health;
mod logging;
mod memory;
mod run;

use std::io::Write;

use anyhow::Context;

use crate::capture::{self, SystemExec};
use crate::cli::{Args, Command, InitArgs};

pub use self::memory::MemoryRelease;

/// Runs `mesh-proxy` with `args`; the binary prints the error and exits non-zero.
pub fn run(args: Args) -> anyhow::Result<()> {
    run_with(args, None)
}

/// [`run`], calling `release` to give the allocator's free memory back to the kernel once the
/// bootstrap is applied and after each configuration change has settled.
pub fn run_with(args: Args, release: Option<MemoryRelease>) -> anyhow::Result<()> {
    match args.command {
        Command::Init(init) => run_init(&init, &mut std::io::stdout().lock()),
        Command::Run(args) => run::run(&args, release),
    }
}

fn run_init(init: &InitArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let config = init.capture_config();
    match (init.cleanup, init.dry_run) {
        (false, true) => out.write_all(config.restore_script().as_bytes())?,
        (true, true) => {
            for command in capture::cleanup_commands() {
                writeln!(out, "{command}")?;
            }
        }
        (false, false) => capture::apply(&config, &mut SystemExec)
            .context("installing the traffic capture rules")?,
        (true, false) => {
            capture::cleanup(&mut SystemExec).context("removing the traffic capture rules")?
        }
    }
    Ok(())
}
