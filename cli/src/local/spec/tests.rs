use std::path::Path;

use pretty_assertions::assert_eq;

use super::*;

const MINIMAL: &str = "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\n\
                       services:\n- name: web\n  ports: [{name: http, port: 80, targetPort: 8080}]\n\
                       workloads:\n- name: web-v1\n  labels: {app: web}\n  command: [web]\n";

fn error(text: &str) -> String {
    parse(text, Path::new("mesh.yaml")).unwrap_err().to_string()
}

#[test]
fn defaults_fill_namespace_service_account_and_selector() {
    let file = parse(MINIMAL, Path::new("mesh.yaml")).unwrap();
    let service = &file.services[0];
    assert_eq!(service.namespace, "default");
    assert_eq!(service.ports[0].target_port, Some(8080));
    assert_eq!(
        service.selector(),
        BTreeMap::from([("app".to_string(), "web".to_string())])
    );
    let workload = &file.workloads[0];
    assert_eq!(
        (
            workload.namespace.as_str(),
            workload.service_account.as_str()
        ),
        ("default", "default")
    );
    assert!(service.selects(workload));
}

#[test]
fn unknown_fields_are_named_with_their_path() {
    assert_eq!(
        error(&MINIMAL.replace("command: [web]", "comand: [web]")),
        "mesh.yaml: workloads[0].comand: unknown field `comand`, expected one of `name`, `namespace`, \
         `serviceAccount`, `labels`, `command`, `ports`, `env`"
    );
    assert_eq!(
        error(&MINIMAL.replace("targetPort", "target")),
        "mesh.yaml: services[0].ports[0].target: unknown field `target`, expected one of `name`, \
         `port`, `targetPort`"
    );
}

#[test]
fn bad_values_are_named_with_their_path() {
    assert_eq!(
        error(&MINIMAL.replace("kind: LocalMesh", "kind: Mesh")),
        "mesh.yaml: kind: must be LocalMesh, not \"Mesh\""
    );
    assert_eq!(
        error(&MINIMAL.replace("name: web-v1", "name: Web_v1")),
        "mesh.yaml: workloads[0].name: \"Web_v1\" is not a DNS label (lowercase letters, \
         digits and '-', at most 63)"
    );
    assert_eq!(
        error(&MINIMAL.replace("command: [web]", "command: []")),
        "mesh.yaml: workloads[0].command: names no program"
    );
    assert_eq!(
        error(&MINIMAL.replace("port: 80,", "port: 0,")),
        "mesh.yaml: services[0].ports[0]: ports are numbers from 1 to 65535"
    );
    assert_eq!(
        error(&MINIMAL.replace("port: 80,", "port: 70000,")),
        "mesh.yaml: services[0].ports[0].port: invalid value: integer `70000`, expected u16"
    );
}

#[test]
fn files_merge_and_duplicates_name_both_files() {
    let a = parse(MINIMAL, Path::new("a.yaml")).unwrap();
    let mut b = parse(MINIMAL, Path::new("b.yaml")).unwrap();
    b.services.clear();
    b.config = vec![PathBuf::from("networking/gw.yaml")];
    let error = LocalMesh::merge(vec![
        (PathBuf::from("dir/a.yaml"), a.clone()),
        (PathBuf::from("dir/b.yaml"), b.clone()),
    ])
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "dir/b.yaml: workload web-v1 is already defined in dir/a.yaml"
    );
    b.workloads[0].name = "web-v2".to_string();
    let mesh = LocalMesh::merge(vec![
        (PathBuf::from("dir/a.yaml"), a),
        (PathBuf::from("other/b.yaml"), b),
    ])
    .unwrap();
    let names: Vec<&str> = mesh.workloads.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["web-v1", "web-v2"]);
    assert_eq!(mesh.config, [PathBuf::from("other/networking/gw.yaml")]);
    assert_eq!(mesh.namespaces(), ["default"]);
}
