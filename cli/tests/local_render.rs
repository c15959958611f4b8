//! `meshctl local`'s rendering of the bookinfo sample: the Kubernetes objects the control plane
//! reads and the hosts file of a pod, against golden files. `MESH_UPDATE_GOLDEN=1` rewrites
//! them.

use std::{fs, path::Path};

use mesh_common::load::{LoadOptions, LoadedKind, load_path};
use meshctl::local::{
    LocalMesh,
    plan::{DEFAULT_POD_NETWORK, Plan},
    render::{hosts_file, kubernetes_objects},
};
use pretty_assertions::assert_eq;

fn bookinfo() -> (LocalMesh, Plan) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples/bookinfo/local.yaml");
    let mesh = LocalMesh::read(&[file]).expect("the sample reads");
    let plan = Plan::new(&mesh, "golden", DEFAULT_POD_NETWORK).expect("the sample fits");
    (mesh, plan)
}

/// Compares `actual` with the golden file `name`, or rewrites it when `MESH_UPDATE_GOLDEN` is
/// set.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/local-bookinfo")
        .join(name);
    if std::env::var_os("MESH_UPDATE_GOLDEN").is_some() {
        fs::write(&path, actual).expect("the golden file is written");
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with MESH_UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        expected, actual,
        "{name} differs (MESH_UPDATE_GOLDEN=1 rewrites it after review)"
    );
}

#[test]
fn the_sample_resolves_its_config_against_its_own_directory() {
    let (mesh, _) = bookinfo();
    let names: Vec<String> = mesh
        .config
        .iter()
        .map(|p| {
            assert!(p.is_file(), "{} is missing", p.display());
            p.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    assert_eq!(
        names,
        ["destination-rule-all.yaml", "bookinfo-gateway.yaml"]
    );
}

#[test]
fn bookinfo_renders_as_kubernetes_objects() {
    let (mesh, plan) = bookinfo();
    let files = kubernetes_objects(&mesh, &plan).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["default.yaml"]);
    golden("default.yaml", &files[0].text);
}

#[test]
fn the_rendered_objects_load_without_errors_or_unknown_fields() {
    let (mesh, plan) = bookinfo();
    let dir = tempfile::tempdir().unwrap();
    for file in kubernetes_objects(&mesh, &plan).unwrap() {
        fs::write(dir.path().join(&file.path), &file.text).unwrap();
    }
    let loaded = load_path(dir.path(), &LoadOptions::default());
    let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors, Vec::<String>::new());
    let unknown: Vec<String> = loaded
        .resources
        .iter()
        .flat_map(|r| r.unknown_fields.iter().map(|u| format!("{u:?}")))
        .collect();
    assert_eq!(unknown, Vec::<String>::new());
    let count = |kind: LoadedKind| {
        loaded
            .resources
            .iter()
            .filter(|r| r.object.kind() == kind)
            .count()
    };
    assert_eq!(
        [
            count(LoadedKind::Namespace),
            count(LoadedKind::Service),
            count(LoadedKind::EndpointSlice),
            count(LoadedKind::Pod)
        ],
        [1, 4, 4, 6]
    );
}

#[test]
fn a_pod_resolves_every_service_by_its_kubernetes_names() {
    let (mesh, plan) = bookinfo();
    let productpage = plan.workload("productpage-v1").unwrap();
    golden(
        "hosts-productpage-v1",
        &hosts_file(&mesh, &plan, productpage),
    );
}
