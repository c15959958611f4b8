//! The command line of `meshctl`.

use clap::{Parser, Subcommand};
use clap_complete::Shell;

/// `meshctl`'s arguments.
#[derive(Debug, Parser)]
#[command(
    name = "meshctl",
    version,
    about = "The command line of the mesh.rs service mesh.",
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script for meshctl.
    #[command(after_help = "To load completions in the current bash session:\n  \
                            source <(meshctl completion bash)")]
    Completion {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print the version of this meshctl.
    Version,
    /// Run a whole mesh on this machine, without Kubernetes.
    Local(meshctl::local::cli::LocalArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
