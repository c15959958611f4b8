use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use pretty_assertions::assert_eq;

use super::*;
use crate::local::{
    plan::{DEFAULT_POD_NETWORK, LOOPBACK_NETWORK},
    spec::{LocalMesh, parse},
};

fn mesh() -> LocalMesh {
    let text = "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\n\
                services: [{name: web, ports: [{name: http, port: 9080}]}]\nworkloads:\n\
                - {name: web-v1, labels: {app: web}, serviceAccount: web, command: [x],\n   \
                   env: {HOSTNAME: mine, LEVEL: debug}}\n\
                - {name: db-v1, namespace: data, command: [x]}\n";
    let file = parse(text, Path::new("m.yaml")).unwrap();
    LocalMesh::merge(vec![(PathBuf::from("m.yaml"), file)]).unwrap()
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn a_namespace_pod_binds_everything_and_has_no_proxy_variables() {
    let mesh = mesh();
    let plan = Plan::new(&mesh, "t", DEFAULT_POD_NETWORK).unwrap();
    assert_eq!(
        pod_env(&plan, &plan.workloads[1]),
        vars(&[
            ("BIND_IP", "0.0.0.0"),
            ("HOSTNAME", "db-v1"),
            ("INSTANCE_IP", "198.18.0.3"),
            ("POD_IP", "198.18.0.3"),
            ("POD_NAME", "db-v1"),
            ("POD_NAMESPACE", "data"),
        ])
    );
}

#[test]
fn an_explicit_pod_binds_its_own_address_and_proxies_through_its_sidecar() {
    let mesh = mesh();
    let plan = Plan::explicit(&mesh, "t", LOOPBACK_NETWORK).unwrap();
    let direct = "127.0.1.2,127.0.0.1,localhost,::1";
    assert_eq!(
        workload_env(&plan, &mesh.workloads[0], &plan.workloads[0]),
        vars(&[
            ("BIND_IP", "127.0.1.2"),
            ("HOSTNAME", "mine"),
            ("HTTP_PROXY", "http://127.0.1.2:15001"),
            ("INSTANCE_IP", "127.0.1.2"),
            ("LEVEL", "debug"),
            ("NO_PROXY", direct),
            ("POD_IP", "127.0.1.2"),
            ("POD_NAME", "web-v1"),
            ("POD_NAMESPACE", "default"),
            ("SERVICE_ACCOUNT", "web"),
            ("http_proxy", "http://127.0.1.2:15001"),
            ("no_proxy", direct),
        ])
    );
    assert_eq!(
        pod_env(&plan, &plan.workloads[1]).get("http_proxy"),
        Some(&"http://127.0.1.3:15001".to_string())
    );
}

#[test]
fn references_expand_as_kubernetes_expands_them() {
    let env = vars(&[("POD_IP", "127.0.1.2"), ("PORT", "9080"), ("EMPTY", "")]);
    let cases = [
        ("$(POD_IP)", "127.0.1.2"),
        ("--listen=$(POD_IP):$(PORT)", "--listen=127.0.1.2:9080"),
        ("[$(EMPTY)]", "[]"),
        ("$(UNKNOWN)", "$(UNKNOWN)"),
        ("$$(POD_IP)", "$(POD_IP)"),
        ("$$$(PORT)", "$9080"),
        ("cost: 5$", "cost: 5$"),
        ("$PORT", "$PORT"),
        ("$(PORT", "$(PORT"),
        ("no references", "no references"),
    ];
    for (arg, expanded) in cases {
        assert_eq!(expand(arg, &env), expanded, "{arg}");
    }
}
