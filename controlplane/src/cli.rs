//! The command line of `mesh-controlplane`.

use clap::Parser;

/// `mesh-controlplane`'s arguments. It has no command yet: run without arguments, it prints its
/// help and exits with status 2.
#[derive(Debug, Parser)]
#[command(
    name = "mesh-controlplane",
    version,
    about = "The mesh.rs control plane: xDS for the proxies, their SPIFFE certificates, Istio config.",
    arg_required_else_help = true
)]
pub struct Args {}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }
}
