//! `bookinfo`: Istio's bookinfo sample application, written in Rust, for mesh.rs's demo and
//! end-to-end tests.

use clap::Parser;

/// `bookinfo`'s arguments. It serves nothing yet: run without arguments, it prints its help and
/// exits with status 2.
#[derive(Debug, Parser)]
#[command(
    name = "bookinfo",
    version,
    about = "The bookinfo sample application of mesh.rs, written in Rust.",
    arg_required_else_help = true
)]
struct Args {}

fn main() {
    // With no command defined, clap answers every invocation itself (help, version or a usage
    // error) and exits; there is nothing to run after it.
    Args::parse();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }
}
