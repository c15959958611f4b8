//! The `meshctl local` command line: its help, and the errors a user meets first.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_meshctl");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        // anyhow appends a backtrace to the error when these ask for one.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_the_local_commands() {
    let output = run(&["local", "--help"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let help = String::from_utf8(output.stdout).unwrap();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "up", "down", "status", "apply", "delete", "exec", "logs", "help"
        ]
    );
    assert!(help.contains("--state-dir <DIR>"), "{help}");
}

#[test]
fn commands_on_a_state_dir_without_a_mesh_say_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().to_str().unwrap();
    for args in [
        vec!["status"],
        vec!["logs", "details-v1"],
        vec!["exec", "details-v1", "--", "true"],
        vec!["apply", "-f", "x.yaml"],
    ] {
        let mut all = vec!["local", "--state-dir", state_dir];
        all.extend(args.iter());
        let output = run(&all);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert_eq!(
            stderr(&output),
            format!(
                "Error: no local mesh runs from {state_dir}: start one with `meshctl local up`\n"
            ),
            "{args:?}"
        );
    }
    let output = run(&["local", "--state-dir", state_dir, "down"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        format!("no local mesh runs from {state_dir}\n")
    );
}

#[test]
fn up_names_the_file_and_field_of_a_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mesh.yaml");
    std::fs::write(
        &file,
        "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\nworkloads:\n- name: a\n  cmd: [x]\n",
    )
    .unwrap();
    let output = run(&[
        "local",
        "--state-dir",
        dir.path().to_str().unwrap(),
        "up",
        "-f",
        file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        format!(
            "Error: {}: workloads[0].cmd: unknown field `cmd`, expected one of `name`, \
             `namespace`, `serviceAccount`, `labels`, `command`, `ports`, `env`\n",
            file.display()
        )
    );
}

#[test]
fn the_namespace_mode_without_root_says_it_needs_root() {
    let Some(setpriv) = mesh_testing::external::find_on_path("setpriv") else {
        eprintln!("SKIPPED: setpriv (util-linux) is needed to run meshctl as another user");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mesh.yaml");
    std::fs::write(&file, "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\n").unwrap();
    let as_nobody = |program: &str, args: &[&str]| {
        Command::new(&setpriv)
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program)
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE")
            .output()
            .unwrap()
    };
    // Only meaningful where root can become another user, and that user can run the binary.
    if as_nobody(BIN, &["version"]).status.code() != Some(0) {
        eprintln!("SKIPPED: cannot run {BIN} as user 65534 here");
        return;
    }
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let state_dir = dir.path().join("state");
    let output = as_nobody(
        BIN,
        &[
            "local",
            "--state-dir",
            state_dir.to_str().unwrap(),
            "up",
            "--mode",
            "namespaces",
            "-f",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "Error: meshctl local's namespace mode needs root: it creates network namespaces, a \
         bridge and iptables rules (run it with sudo, or use --mode explicit)\n"
    );
}
