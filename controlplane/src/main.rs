use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    mesh_controlplane::execute(mesh_controlplane::Args::parse())
}
