//! `meshctl`: the command line of the mesh.rs service mesh.

#![forbid(unsafe_code)]

mod args;
mod completion;

use std::io::{self, Write as _};

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut stdout = io::stdout().lock();
    match cli.command {
        Command::Completion { shell } => stdout.write_all(&completion::script(shell))?,
        Command::Version => writeln!(stdout, "client version: {}", env!("CARGO_PKG_VERSION"))?,
        Command::Local(args) => {
            let code = meshctl::local::cli::run(args, &mut stdout)?;
            if code != 0 {
                std::process::exit(code);
            }
        }
    }
    Ok(())
}
