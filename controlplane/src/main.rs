use clap::Parser;

fn main() {
    // With no command defined, clap answers every invocation itself (help, version or a usage
    // error) and exits; there is nothing to run after it.
    mesh_controlplane::Args::parse();
}
