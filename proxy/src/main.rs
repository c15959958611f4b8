use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match mesh_proxy::run(mesh_proxy::Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
