//! The `meshctl` binary: help, version and shell completion.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_meshctl");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(output: Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("stdout is UTF-8")
}

#[test]
fn help_says_what_it_is_and_lists_the_commands() {
    assert_eq!(
        stdout(run(&["--help"])),
        "The command line of the mesh.rs service mesh.\n\
         \n\
         Usage: meshctl <COMMAND>\n\
         \n\
         Commands:\n\
         \x20 completion  Print a shell completion script for meshctl\n\
         \x20 version     Print the version of this meshctl\n\
         \x20 local       Run a whole mesh on this machine, without Kubernetes\n\
         \x20 help        Print this message or the help of the given subcommand(s)\n\
         \n\
         Options:\n\
         \x20 -h, --help     Print help\n\
         \x20 -V, --version  Print version\n"
    );
}

#[test]
fn version_prints_the_client_version() {
    assert_eq!(
        stdout(run(&["version"])),
        concat!("client version: ", env!("CARGO_PKG_VERSION"), "\n")
    );
}

#[test]
fn completion_bash_prints_a_completion_script() {
    let script = stdout(run(&["completion", "bash"]));
    assert!(script.starts_with("_meshctl() {\n"), "{script}");
    assert!(
        script.contains("opts=\"-h -V --help --version completion version local help\""),
        "{script}"
    );
    assert!(
        script.contains("bash elvish fish powershell zsh"),
        "{script}"
    );
    assert!(
        script.contains("complete -F _meshctl -o nosort -o bashdefault -o default meshctl"),
        "{script}"
    );
}

#[test]
fn completion_rejects_an_unknown_shell() {
    let output = run(&["completion", "tcsh"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: invalid value 'tcsh' for '<SHELL>'\n"),
        "{stderr}"
    );
}

#[test]
fn without_arguments_it_prints_the_help_and_exits_2() {
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with(
            "The command line of the mesh.rs service mesh.\n\nUsage: meshctl <COMMAND>\n"
        ),
        "{stderr}"
    );
}
