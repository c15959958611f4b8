//! The `mesh-proxy` binary starts, says what it is, refuses to run without a command, and
//! reports `init`'s errors plainly.

use std::process::{Command, Output};

use mesh_testing::command::{assert_stderr, assert_stdout};

const BIN: &str = env!("CARGO_BIN_EXE_mesh-proxy");
const ABOUT: &str =
    "The mesh.rs data plane: the sidecar and gateway proxy, configured over Envoy's xDS v3.";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn help() -> String {
    format!(
        "{ABOUT}\n\n\
         Usage: mesh-proxy <COMMAND>\n\n\
         Commands:\n\
         \x20 init  Write the iptables rules that send the pod's TCP traffic through the proxy\n\
         \x20 run   Run the proxy: serve the listeners of an Envoy v3 bootstrap and the \
         configuration its ADS server sends, until SIGTERM, then drain\n\
         \x20 help  Print this message or the help of the given subcommand(s)\n\n\
         Options:\n\
         \x20 -h, --help     Print help\n\
         \x20 -V, --version  Print version\n"
    )
}

#[test]
fn help_says_what_it_is() {
    assert_stdout(Command::new(BIN).arg("--help"), 0, &help());
}

#[test]
fn version_prints_the_crate_version() {
    let version = concat!("mesh-proxy ", env!("CARGO_PKG_VERSION"), "\n");
    assert_stdout(Command::new(BIN).arg("--version"), 0, version);
}

#[test]
fn without_arguments_it_prints_the_help_and_exits_2() {
    assert_stderr(&mut Command::new(BIN), 2, &help());
}

#[test]
fn init_dry_run_prints_the_rules_and_needs_no_iptables() {
    let output = Command::new(BIN)
        .args([
            "init",
            "--dry-run",
            "--include-outbound-cidrs=198.19.0.0/16",
        ])
        .env("PATH", "")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let script = String::from_utf8(output.stdout).unwrap();
    assert!(
        script.starts_with("*nat\n:MESH_INBOUND - [0:0]\n"),
        "{script}"
    );
    assert!(
        script.contains("\n-A MESH_OUTPUT -d 198.19.0.0/16 -j MESH_REDIRECT\n"),
        "{script}"
    );
    assert!(
        script.ends_with("\n-A OUTPUT -p tcp -j MESH_OUTPUT\nCOMMIT\n"),
        "{script}"
    );
}

#[test]
fn init_without_iptables_says_how_to_install_it() {
    assert_stderr(
        Command::new(BIN).arg("init").env("PATH", ""),
        1,
        "error: installing the traffic capture rules: `iptables` was not found on PATH; install \
         iptables (Debian/Ubuntu: `apt-get install iptables`)\n",
    );
}

#[test]
fn init_rejects_a_bad_port_naming_the_flag() {
    let output = run(&["init", "--exclude-outbound-ports=80,http"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.lines().next().unwrap(),
        "error: invalid value '80,http' for '--exclude-outbound-ports <PORTS>': `http` is not a \
         port number from 1 to 65535"
    );
}
