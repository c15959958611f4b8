//! The `bookinfo` binary starts, says what it is, and refuses to run without a command.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_bookinfo");
const ABOUT: &str = "The bookinfo sample application of mesh.rs, written in Rust.";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn help() -> String {
    format!(
        "{ABOUT}\n\n\
         Usage: bookinfo\n\n\
         Options:\n\
         \x20 -h, --help     Print help\n\
         \x20 -V, --version  Print version\n"
    )
}

#[test]
fn help_says_what_it_is() {
    let output = run(&["--help"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), help());
}

#[test]
fn version_prints_the_crate_version() {
    let output = run(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        concat!("bookinfo ", env!("CARGO_PKG_VERSION"), "\n")
    );
}

#[test]
fn without_arguments_it_prints_the_help_and_exits_2() {
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8(output.stderr).unwrap(), help());
}
