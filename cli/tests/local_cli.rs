//! The `meshctl local` command line: its help, and the errors a user meets first.

use std::process::{Command, Output};

use meshctl::local::{
    LocalMesh,
    plan::{LOOPBACK_NETWORK, Plan},
    spec::parse,
    state::{ProcessRecord, Role, State, StateDir},
};

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

#[test]
fn logs_tail_and_follow_of_a_workload_that_has_exited() {
    // A state directory recording one workload whose process has exited, with its log.
    let dir = tempfile::tempdir().unwrap();
    let text = "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\n\
                workloads: [{name: web-v1, command: [x]}]\n";
    let file = parse(text, std::path::Path::new("m.yaml")).unwrap();
    let mesh = LocalMesh::merge(vec![("m.yaml".into(), file)]).unwrap();
    let state_dir = StateDir::new(dir.path());
    std::fs::create_dir_all(state_dir.logs_dir()).unwrap();
    let log = state_dir.log("web-v1", false);
    std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
    let state = State {
        plan: Plan::explicit(&mesh, "t", LOOPBACK_NETWORK).unwrap(),
        mesh: true,
        forward_rule: None,
        processes: vec![ProcessRecord {
            name: "web-v1".to_string(),
            role: Role::Workload,
            // This test's own pid with a start time it never had: a process that has exited
            // and whose pid was taken again.
            pid: std::process::id(),
            start_time: 1,
            log,
            admin: None,
        }],
        monitoring: None,
        gateway: None,
    };
    state_dir.save(&state).unwrap();

    let state_dir = dir.path().to_str().unwrap();
    let logs = |extra: &[&str]| {
        let mut args = vec!["local", "--state-dir", state_dir, "logs", "web-v1"];
        args.extend(extra);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    assert_eq!(logs(&[]), "one\ntwo\nthree\n");
    assert_eq!(logs(&["--tail", "2"]), "two\nthree\n");
    // The process has exited: following prints the log to its end and returns.
    assert_eq!(logs(&["-f", "--tail", "1"]), "three\n");
    assert_eq!(logs(&["--follow"]), "one\ntwo\nthree\n");
}

#[test]
fn up_refuses_a_timeout_of_nothing_or_with_no_wait() {
    let dir = tempfile::tempdir().unwrap();
    let state_dir = dir.path().to_str().unwrap();
    let up = |extra: &[&str]| {
        let mut args = vec!["local", "--state-dir", state_dir, "up", "-f", "x.yaml"];
        args.extend(extra);
        let output = run(&args);
        assert_eq!(output.status.code(), Some(2), "{extra:?}");
        stderr(&output)
    };
    assert_eq!(
        up(&["--timeout", "0s"]).lines().next().unwrap(),
        "error: invalid value '0s' for '--timeout <DURATION>': the timeout must be more than 0 \
         (--no-wait does not wait)"
    );
    assert_eq!(
        up(&["--timeout", "90s", "--no-wait"])
            .lines()
            .next()
            .unwrap(),
        "error: the argument '--timeout <DURATION>' cannot be used with '--no-wait'"
    );
}
