//! Installing and removing the rules: idempotent, so an init container that runs twice leaves
//! one set of rules.
//!
//! [`apply`] first removes whatever an earlier run left ([`cleanup`]), then loads the whole
//! rule set with one `iptables-restore --noflush`, which commits atomically and leaves other
//! rules of the table alone.

use std::io::{self, Write};
use std::process::{Command, Stdio};

use super::CaptureConfig;
use super::rules::{CHAINS, JUMPS};

/// How many copies of a jump rule [`cleanup`] removes at most: more means something other than
/// `mesh-proxy init` keeps adding them.
const MAX_DUPLICATE_JUMPS: usize = 16;

/// Runs the iptables tools; swapped out in tests.
pub trait Exec {
    /// Runs `program` with `args`, feeding it `stdin`, and reports how it exited.
    fn run(
        &mut self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<Exit, CaptureError>;
}

/// How a command ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exit {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// What it wrote to stderr.
    pub stderr: String,
}

/// Runs the real commands, found on `PATH`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemExec;

/// Why the rules could not be installed or removed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "`{binary}` was not found on PATH; install iptables (Debian/Ubuntu: `apt-get install \
         iptables`)"
    )]
    Missing { binary: String },
    #[error("could not run `{binary}`: {source}")]
    Spawn { binary: String, source: io::Error },
    #[error("`{command}` failed with {status}: {stderr}")]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
}

// === impl SystemExec ===

impl Exec for SystemExec {
    fn run(
        &mut self,
        program: &str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<Exit, CaptureError> {
        let spawn_error = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => CaptureError::Missing {
                binary: program.to_owned(),
            },
            _ => CaptureError::Spawn {
                binary: program.to_owned(),
                source,
            },
        };
        let mut child = Command::new(program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Dropping the pipe closes it, so the tool sees the end of its input.
            pipe.write_all(input.as_bytes()).map_err(spawn_error)?;
        }
        let output = child.wait_with_output().map_err(spawn_error)?;
        Ok(Exit {
            code: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

/// Installs `config`'s rules, replacing any installed before.
pub fn apply(config: &CaptureConfig, exec: &mut dyn Exec) -> Result<(), CaptureError> {
    cleanup(exec)?;
    let script = config.restore_script();
    let exit = exec.run("iptables-restore", &["--noflush"], Some(&script))?;
    succeeded("iptables-restore --noflush", exit)
}

/// Removes every rule and chain [`apply`] adds; nothing else. Safe to run when nothing is
/// installed.
pub fn cleanup(exec: &mut dyn Exec) -> Result<(), CaptureError> {
    for (chain, rule) in JUMPS {
        for _ in 0..MAX_DUPLICATE_JUMPS {
            let check = [&["-t", "nat", "-C", chain][..], rule].concat();
            // 1: no such rule; 2: no such chain to jump to. Both mean there is nothing to do.
            let exit = exec.run("iptables", &check, None)?;
            if matches!(exit.code, Some(1 | 2)) {
                break;
            }
            succeeded(&command(&check), exit)?;
            let delete = [&["-t", "nat", "-D", chain][..], rule].concat();
            let exit = exec.run("iptables", &delete, None)?;
            succeeded(&command(&delete), exit)?;
        }
    }
    let mut present = Vec::new();
    for chain in CHAINS {
        let list = ["-t", "nat", "-S", chain];
        let exit = exec.run("iptables", &list, None)?;
        if exit.code != Some(1) {
            succeeded(&command(&list), exit)?;
            present.push(chain);
        }
    }
    // Our chains jump to each other: empty them all before deleting any.
    for flag in ["-F", "-X"] {
        for chain in &present {
            let args = ["-t", "nat", flag, chain];
            let exit = exec.run("iptables", &args, None)?;
            succeeded(&command(&args), exit)?;
        }
    }
    Ok(())
}

/// The commands [`cleanup`] runs when every rule and chain is present once: what `--cleanup
/// --dry-run` prints.
pub fn cleanup_commands() -> Vec<String> {
    let mut commands: Vec<String> = JUMPS
        .iter()
        .map(|(chain, rule)| command(&[&["-t", "nat", "-D", chain][..], rule].concat()))
        .collect();
    for flag in ["-F", "-X"] {
        commands.extend(
            CHAINS
                .iter()
                .map(|chain| command(&["-t", "nat", flag, chain])),
        );
    }
    commands
}

fn command(args: &[&str]) -> String {
    format!("iptables {}", args.join(" "))
}

fn succeeded(command: &str, exit: Exit) -> Result<(), CaptureError> {
    if exit.code == Some(0) {
        return Ok(());
    }
    Err(CaptureError::Failed {
        command: command.to_owned(),
        status: exit
            .code
            .map_or_else(|| "a signal".to_owned(), |code| format!("exit code {code}")),
        stderr: exit.stderr,
    })
}
