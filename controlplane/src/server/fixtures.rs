//! Snapshots for the tests of the server: a mesh of two namespaces, `a` and `b`, each with one
//! service and its pods, built from YAML as the file store builds it.

use std::{path::Path, sync::Arc};

use mesh_common::load::{LoadOptions, Loader};

pub(crate) use crate::model::test_support::{PRIVATE_VS, service};
use crate::{
    mesh_config::MeshConfig,
    model::{Objects, Snapshot},
    store::{PerFileState, reconcile},
};

/// The pod of `web` in `a`.
pub const WEB_1: &str = "198.18.0.10";
/// A second pod of `web`, which [`two_namespaces`] adds on request.
pub const WEB_2: &str = "198.18.0.11";
/// The pod of `api` in `b`.
pub const API_1: &str = "198.18.0.20";

/// `web` in `a` and `api` in `b`; `web` has a second pod when `two_web_pods`.
pub fn two_namespaces(two_web_pods: bool) -> String {
    let web: &[&str] = if two_web_pods {
        &[WEB_1, WEB_2]
    } else {
        &[WEB_1]
    };
    format!(
        "{}{}",
        service("web", "a", "198.19.0.10", web),
        service("api", "b", "198.19.0.20", &[API_1])
    )
}

/// The model of `yaml`, read as the file store reads a file.
pub fn snapshot(yaml: &str) -> Arc<Snapshot> {
    Files::new(MeshConfig::default()).load(yaml)
}

/// The same, under another mesh config.
pub fn snapshot_with(yaml: &str, mesh: &MeshConfig) -> Arc<Snapshot> {
    Files::new(mesh.clone()).load(yaml)
}

/// A file store without the files: each load replaces the last, and the snapshots' versions
/// grow as the store's do. Each snapshot is built from the one before as the store builds it,
/// so that unchanged services keep their `Arc`s.
pub struct Files {
    state: PerFileState,
    objects: Objects,
    last: Arc<Snapshot>,
}

impl Files {
    pub fn new(mesh: MeshConfig) -> Self {
        Self {
            state: PerFileState::default(),
            objects: Objects::default(),
            last: Arc::new(Snapshot::build(&Objects::default(), &mesh)),
        }
    }

    /// The snapshot once `yaml` is the whole config.
    pub fn load(&mut self, yaml: &str) -> Arc<Snapshot> {
        let mut loader = Loader::new(LoadOptions::default());
        loader.add_str(yaml, Path::new("mesh.yaml"));
        let reconciled = reconcile(&self.state, loader.finish());
        assert_eq!(reconciled.errors, vec![], "the fixture loads");
        self.state = reconciled.state;
        for change in reconciled.changes {
            change.apply(&mut self.objects);
        }
        self.last = Arc::new(self.last.next(&mut self.objects));
        Arc::clone(&self.last)
    }
}
