//! `meshctl completion <shell>`: completion scripts generated from the command definition, so
//! they never fall behind it.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::Cli;

/// The completion script of `meshctl` for `shell`.
///
/// Rendered into memory rather than straight to stdout because `clap_complete` panics when a
/// write fails, e.g. when the reader of a pipe goes away.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "meshctl", &mut script);
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_completes_the_subcommands() {
        for shell in [
            Shell::Bash,
            Shell::Elvish,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Zsh,
        ] {
            let script = String::from_utf8(script(shell)).unwrap();
            assert!(script.contains("completion"), "{shell}: {script}");
            assert!(script.contains("version"), "{shell}: {script}");
        }
    }
}
