//! The sample's Kubernetes manifests, Istio routing files and container images, checked against
//! the code they describe: the binary's command line, the mesh's loader and validation, and the
//! workspace's crates.

// The helpers shared by the tests fail the test the same way the tests do.
#![allow(clippy::unwrap_used)]

mod images;
mod kube;
mod networking;

use std::{
    fs,
    path::{Path, PathBuf},
};

use serde_json::Value;

/// The sample's directory.
fn sample_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's root, two levels above the sample.
fn workspace_root() -> PathBuf {
    sample_dir().join("../..").canonicalize().unwrap()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every non-empty document of a YAML stream, as JSON values.
fn documents(path: &Path) -> Vec<Value> {
    let documents: Vec<Value> = serde_saphyr::from_multiple(&read(path))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    documents.into_iter().filter(|d| !d.is_null()).collect()
}
