//! The command line of `mesh-proxy`.

use clap::Parser;

/// `mesh-proxy`'s arguments. It has no command yet: run without arguments, it prints its help
/// and exits with status 2.
#[derive(Debug, Parser)]
#[command(
    name = "mesh-proxy",
    version,
    about = "The mesh.rs data plane: the sidecar and gateway proxy, configured over Envoy's xDS v3.",
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
