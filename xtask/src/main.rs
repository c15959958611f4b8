//! `cargo xtask`: the project's tasks, written in Rust so that they run wherever cargo does.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match xtask::run(xtask::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        // The message names what failed and what to do; a backtrace of the task runner would
        // only bury it.
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
