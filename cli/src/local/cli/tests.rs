use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
};

use pretty_assertions::assert_eq;

use super::*;
use crate::local::{
    plan::{DEFAULT_POD_NETWORK, LOOPBACK_NETWORK, Plan},
    spec::parse,
};

fn state(explicit: bool) -> State {
    let text = "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\n\
                workloads: [{name: web-v1, command: [x]}]\n";
    let file = parse(text, Path::new("m.yaml")).unwrap();
    let mesh = LocalMesh::merge(vec![(PathBuf::from("m.yaml"), file)]).unwrap();
    let plan = if explicit {
        Plan::explicit(&mesh, "t", LOOPBACK_NETWORK).unwrap()
    } else {
        Plan::new(&mesh, "t", DEFAULT_POD_NETWORK).unwrap()
    };
    State {
        plan,
        mesh: true,
        forward_rule: None,
        processes: Vec::new(),
        monitoring: None,
        gateway: Some("http://127.0.0.1:8080".to_string()),
    }
}

/// The program, arguments and the environment variables set, of `command`.
fn parts(command: &Command) -> (String, Vec<String>, Vec<(String, String)>) {
    let text = |s: &OsStr| s.to_string_lossy().into_owned();
    (
        text(command.get_program()),
        command.get_args().map(text).collect(),
        command
            .get_envs()
            .map(|(k, v)| (text(k), v.map(text).unwrap_or_default()))
            .collect(),
    )
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn exec_enters_the_namespace_of_a_pod() {
    let command = ["curl", "-s", "details:9080"].map(String::from);
    assert_eq!(
        parts(&exec_command(&state(false), "web-v1", &command).unwrap()),
        (
            "ip".to_string(),
            [
                "netns",
                "exec",
                "mesh-t-web-v1",
                "curl",
                "-s",
                "details:9080"
            ]
            .map(String::from)
            .to_vec(),
            env(&[
                ("BIND_IP", "0.0.0.0"),
                ("HOSTNAME", "web-v1"),
                ("INSTANCE_IP", "198.18.0.2"),
                ("POD_IP", "198.18.0.2"),
                ("POD_NAME", "web-v1"),
                ("POD_NAMESPACE", "default"),
            ])
        )
    );
}

#[test]
fn exec_in_explicit_mode_runs_here_with_the_sidecar_as_proxy() {
    let command = ["curl", "-s", "details:9080"].map(String::from);
    let direct = "127.0.1.2,127.0.0.1,localhost,::1";
    assert_eq!(
        parts(&exec_command(&state(true), "web-v1", &command).unwrap()),
        (
            "curl".to_string(),
            ["-s", "details:9080"].map(String::from).to_vec(),
            env(&[
                ("BIND_IP", "127.0.1.2"),
                ("HOSTNAME", "web-v1"),
                ("HTTP_PROXY", "http://127.0.1.2:15001"),
                ("INSTANCE_IP", "127.0.1.2"),
                ("NO_PROXY", direct),
                ("POD_IP", "127.0.1.2"),
                ("POD_NAME", "web-v1"),
                ("POD_NAMESPACE", "default"),
                ("http_proxy", "http://127.0.1.2:15001"),
                ("no_proxy", direct),
            ])
        )
    );
    assert_eq!(
        exec_command(&state(true), "db-v1", &command)
            .unwrap_err()
            .to_string(),
        "no workload db-v1 in this mesh (there are: web-v1)"
    );
}

#[test]
fn the_summary_of_explicit_mode_says_whose_sidecar_is_in_the_path() {
    assert_eq!(
        summary(&state(true)),
        "WORKLOAD  NAMESPACE  IP         PROXY ADMIN  LOG\n\
         web-v1    default    127.0.1.2  -\n\
         \n\
         ingress gateway: http://127.0.0.1:8080/productpage\n\
         explicit-proxy mode: a workload's HTTP calls go through its own sidecar (http_proxy); \
         the callee's sidecar is not in the path\n"
    );
    assert_eq!(
        summary(&state(false)),
        "WORKLOAD  NAMESPACE  IP          PROXY ADMIN  LOG\n\
         web-v1    default    198.18.0.2  -\n\
         \n\
         ingress gateway: http://127.0.0.1:8080/productpage\n"
    );
}
