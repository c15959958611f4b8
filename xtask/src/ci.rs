//! `cargo xtask ci`: every check CI runs, in the order that fails cheapest first.
//!
//! CI calls exactly this, so a green `cargo xtask ci` on a laptop means a green CI run.

// xtask has no tokio runtime and never pauses a clock: std's Instant is the right tool here.
#![allow(clippy::disallowed_types)]

use std::{
    ffi::OsString,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::bail;

use crate::generate;

/// One check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// A short name for banners and the summary.
    pub name: &'static str,
    pub action: Action,
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Runs cargo with these arguments from the workspace root.
    Cargo(&'static [&'static str]),
    /// Runs `cargo xtask gen --check`, in this process.
    GenCheck,
}

/// Runs every step, stopping at the first failure, then prints how long each took.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let cargo = cargo();
    let has_nextest = has_nextest(&cargo);
    if !has_nextest {
        println!(
            "cargo-nextest is not installed (`cargo install cargo-nextest --locked`); \
             running the tests with `cargo test`"
        );
    }
    let steps = steps(has_nextest);
    let mut timings = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        println!(
            "\n==> [{}/{}] {}: {}",
            i + 1,
            steps.len(),
            step.name,
            step.action
        );
        let start = Instant::now();
        let result = execute(&cargo, root, &step.action);
        timings.push((step.name, start.elapsed(), result.is_ok()));
        if let Err(error) = result {
            print_summary(&timings);
            bail!("ci failed at step `{}`: {error:#}", step.name);
        }
    }
    print_summary(&timings);
    Ok(())
}

/// The steps, cheapest first. Without nextest, `cargo test` runs the doc tests too, so there is
/// no separate doc step.
pub fn steps(has_nextest: bool) -> Vec<Step> {
    let mut steps = vec![
        Step {
            name: "fmt",
            action: Action::Cargo(&["fmt", "--all", "--", "--check"]),
        },
        Step {
            name: "clippy",
            action: Action::Cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--locked",
                "--",
                "-D",
                "warnings",
            ]),
        },
        Step {
            name: "gen",
            action: Action::GenCheck,
        },
    ];
    if has_nextest {
        steps.push(Step {
            name: "test",
            action: Action::Cargo(&[
                "nextest",
                "run",
                "--workspace",
                "--locked",
                "--no-fail-fast",
            ]),
        });
        steps.push(Step {
            name: "doctest",
            action: Action::Cargo(&["test", "--workspace", "--doc", "--locked"]),
        });
    } else {
        steps.push(Step {
            name: "test",
            action: Action::Cargo(&["test", "--workspace", "--locked", "--no-fail-fast"]),
        });
    }
    steps
}

// === impl Action ===

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Cargo(args) => write!(f, "cargo {}", args.join(" ")),
            Action::GenCheck => f.write_str("cargo xtask gen --check"),
        }
    }
}

fn execute(cargo: &OsString, root: &Path, action: &Action) -> anyhow::Result<()> {
    match action {
        Action::GenCheck => generate::check(root),
        Action::Cargo(args) => {
            let status = Command::new(cargo).args(*args).current_dir(root).status()?;
            if !status.success() {
                bail!("`{action}` exited with {status}");
            }
            Ok(())
        }
    }
}

/// The cargo that started us (it sets `CARGO`), so that the toolchain stays the same.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn has_nextest(cargo: &OsString) -> bool {
    Command::new(cargo)
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn print_summary(timings: &[(&str, Duration, bool)]) {
    println!("\n==> summary");
    for (name, elapsed, ok) in timings {
        let outcome = if *ok { "ok" } else { "FAILED" };
        println!("  {name:<8} {:>8.1}s  {outcome}", elapsed.as_secs_f64());
    }
    let total: Duration = timings.iter().map(|(_, elapsed, _)| *elapsed).sum();
    println!("  {:<8} {:>8.1}s", "total", total.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(steps: &[Step]) -> Vec<String> {
        steps
            .iter()
            .map(|s| format!("{}: {}", s.name, s.action))
            .collect()
    }

    #[test]
    fn with_nextest_the_doc_tests_run_apart() {
        assert_eq!(
            commands(&steps(true)),
            [
                "fmt: cargo fmt --all -- --check",
                "clippy: cargo clippy --workspace --all-targets --locked -- -D warnings",
                "gen: cargo xtask gen --check",
                "test: cargo nextest run --workspace --locked --no-fail-fast",
                "doctest: cargo test --workspace --doc --locked",
            ]
        );
    }

    #[test]
    fn without_nextest_cargo_test_runs_everything() {
        assert_eq!(
            commands(&steps(false)),
            [
                "fmt: cargo fmt --all -- --check",
                "clippy: cargo clippy --workspace --all-targets --locked -- -D warnings",
                "gen: cargo xtask gen --check",
                "test: cargo test --workspace --locked --no-fail-fast",
            ]
        );
    }
}
