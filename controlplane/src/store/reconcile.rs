//! What a reload of the config directories changes: the pure heart of the file store.
//!
//! Files are applied whole. A file that loads with errors keeps the version of its objects
//! that last loaded cleanly (none, if it never did), so that a half-saved or mistyped file
//! never takes a running mesh's routes away; every other file's objects follow what is on disk.
//! A second definition of an object is not held against its file: the first one is kept and the
//! second reported.

use std::{
    collections::BTreeMap,
    ops::Bound,
    path::{Path, PathBuf},
};

use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Secret, Service},
    discovery::v1::EndpointSlice,
};
use mesh_common::{
    api::ResourceKey,
    load::{LoadError, LoadResult, Loaded, LoadedKey, LoadedKind, LoadedObject},
};

use crate::model::{ObjectKey, Objects};

/// What the store last applied, by the file each object came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerFileState {
    files: BTreeMap<PathBuf, BTreeMap<LoadedKey, Loaded>>,
}

/// One change to make to the model.
// A reload makes a handful of changes, each moved once into the model; boxing the objects
// would cost an allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Add or replace an object.
    Upsert(LoadedObject),
    /// Remove the object of this key.
    Delete(LoadedKey),
}

/// The outcome of one reload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reconciled {
    /// The changes to the model, deletions first, each in key order.
    pub changes: Vec<Change>,
    /// What is applied once the changes are.
    pub state: PerFileState,
    /// Every error of the load, and every object shadowed by one a broken file keeps.
    pub errors: Vec<LoadError>,
}

// === impl PerFileState ===

impl PerFileState {
    /// The files that objects were applied from, in path order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    /// The keys of the objects applied from `file`, in key order.
    pub fn keys_of(&self, file: &Path) -> Vec<&LoadedKey> {
        self.files
            .get(file)
            .into_iter()
            .flat_map(|o| o.keys())
            .collect()
    }

    /// The object applied from `file` under `key`.
    pub(super) fn get(&self, file: &Path, key: &LoadedKey) -> Option<&Loaded> {
        self.files.get(file)?.get(key)
    }

    /// Applies `loaded` from `file`.
    pub(super) fn insert(&mut self, file: PathBuf, key: LoadedKey, loaded: Loaded) {
        self.files.entry(file).or_default().insert(key, loaded);
    }

    /// No longer applies `key` from `file`; returns what was.
    pub(super) fn remove(&mut self, file: &Path, key: &LoadedKey) -> Option<Loaded> {
        let objects = self.files.get_mut(file)?;
        let removed = objects.remove(key);
        if objects.is_empty() {
            self.files.remove(file);
        }
        removed
    }

    /// The files at or below `path`, which sort right after it.
    pub(super) fn files_under(&self, path: &Path) -> Vec<PathBuf> {
        let after = self
            .files
            .range::<Path, _>((Bound::Included(path), Bound::Unbounded));
        let under = after.take_while(|(file, _)| file.starts_with(path));
        under.map(|(file, _)| file.clone()).collect()
    }

    /// Every applied object by key.
    fn objects(&self) -> BTreeMap<&LoadedKey, &LoadedObject> {
        let all = self.files.values().flat_map(|objects| objects.iter());
        all.map(|(key, loaded)| (key, &loaded.object)).collect()
    }
}

// === impl Change ===

impl Change {
    /// Whether it changes endpoints alone ([`is_endpoint_kind`](super::is_endpoint_kind)).
    pub fn is_endpoint(&self) -> bool {
        let kind = match self {
            Change::Upsert(object) => object.kind(),
            Change::Delete(key) => key.kind,
        };
        super::is_endpoint_kind(kind)
    }

    /// Makes the change to `objects`; true when they changed.
    pub fn apply(self, objects: &mut Objects) -> bool {
        match self {
            Change::Upsert(LoadedObject::Istio(resource)) => objects.upsert_resource(resource),
            Change::Upsert(LoadedObject::Namespace(o)) => objects.upsert(o),
            Change::Upsert(LoadedObject::Service(o)) => objects.upsert(o),
            Change::Upsert(LoadedObject::Pod(o)) => objects.upsert(o),
            Change::Upsert(LoadedObject::EndpointSlice(o)) => objects.upsert(o),
            Change::Upsert(LoadedObject::Secret(o)) => objects.upsert(o),
            Change::Delete(key) => {
                let object_key = ObjectKey::new(key.namespace.clone(), key.name.clone());
                match key.kind {
                    LoadedKind::Istio(kind) => objects.delete_resource(&ResourceKey {
                        kind,
                        namespace: key.namespace,
                        name: key.name,
                    }),
                    LoadedKind::Namespace => objects.delete::<Namespace>(&object_key),
                    LoadedKind::Service => objects.delete::<Service>(&object_key),
                    LoadedKind::Pod => objects.delete::<Pod>(&object_key),
                    LoadedKind::EndpointSlice => objects.delete::<EndpointSlice>(&object_key),
                    LoadedKind::Secret => objects.delete::<Secret>(&object_key),
                }
            }
        }
    }
}

/// Compares a fresh load of every config directory with what was applied before it.
pub fn reconcile(previous: &PerFileState, loaded: LoadResult) -> Reconciled {
    // A path with an error that is not a duplicate: a broken file, or a directory that could
    // not be listed (whose files are then missing from the load, not gone).
    let broken: Vec<PathBuf> = loaded
        .errors
        .iter()
        .filter(|e| e.first_defined.is_none())
        .map(|e| e.origin.file.clone())
        .collect();
    let is_broken = |file: &Path| broken.iter().any(|b| file.starts_with(b));

    let mut state = PerFileState::default();
    for (file, objects) in &previous.files {
        if is_broken(file) {
            state.files.insert(file.clone(), objects.clone());
        }
    }
    let mut errors = loaded.errors;
    // Only the kept files so far: looking through every file for each object would cost the
    // square of the mesh.
    let kept = state.clone();
    for loaded in loaded.resources {
        if is_broken(&loaded.origin.file) {
            continue;
        }
        let key = loaded.object.key();
        let kept = kept.files.values().filter_map(|objects| objects.get(&key));
        if let Some(first) = kept.into_iter().next() {
            errors.push(shadowed(&loaded, &key, first));
            continue;
        }
        let file = state.files.entry(loaded.origin.file.clone()).or_default();
        file.insert(key, loaded);
    }

    let before = previous.objects();
    let after = state.objects();
    let deletes = before
        .keys()
        .filter(|key| !after.contains_key(*key))
        .map(|key| Change::Delete((*key).clone()));
    let upserts = after
        .iter()
        .filter(|(key, object)| before.get(*key) != Some(*object))
        .map(|(_, object)| Change::Upsert((*object).clone()));
    let changes = deletes.chain(upserts).collect();
    Reconciled {
        changes,
        state,
        errors,
    }
}

/// An object defined again outside a broken file that still holds its last good version.
pub(super) fn shadowed(loaded: &Loaded, key: &LoadedKey, first: &Loaded) -> LoadError {
    LoadError {
        origin: loaded.origin.clone(),
        kind: Some(key.kind.to_string()),
        namespace: Some(key.namespace.clone()).filter(|n| !n.is_empty()),
        name: Some(key.name.clone()),
        reason: format!(
            "duplicate resource, first defined at {}, whose file does not load now: its last \
             good version stays applied",
            first.origin
        ),
        first_defined: Some(first.origin.clone()),
    }
}

#[cfg(test)]
mod tests;
