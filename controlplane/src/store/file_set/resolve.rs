//! What replacing some entries of a [`FileSet`] does to the objects it applies: only the
//! objects those entries define, or defined, or kept, are looked at again.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use mesh_common::load::{LoadError, Loaded, LoadedKey, LoadedObject};

use super::{Entry, FileId, FileSet, Place};
use crate::store::reconcile::{Change, shadowed};

/// What the replaced entries touched.
#[derive(Debug, Default)]
pub(super) struct Update {
    /// Objects whose outcome may have changed.
    keys: BTreeSet<LoadedKey>,
    /// Entries replaced, added or removed.
    entries: BTreeSet<FileId>,
    /// Paths that became broken or stopped being so.
    broken: BTreeSet<PathBuf>,
}

// === impl FileSet ===

impl FileSet {
    /// Puts `entry` in `id`'s place (or removes it), indexing its definitions.
    pub(super) fn replace(&mut self, id: FileId, entry: Option<Entry>, update: &mut Update) {
        let was_broken = self.entries.get(&id).is_some_and(Entry::is_broken);
        let is_broken = entry.as_ref().is_some_and(Entry::is_broken);
        let old = match entry {
            Some(entry) => self.entries.insert(id.clone(), entry),
            None => self.entries.remove(&id),
        };
        if let Some(Entry::File(old)) = &old {
            for (index, loaded) in old.resources.iter().enumerate() {
                let key = loaded.object.key();
                if let Some(places) = self.definitions.get_mut(&key) {
                    places.remove(&(id.clone(), index));
                    if places.is_empty() {
                        self.definitions.remove(&key);
                    }
                }
                update.keys.insert(key);
            }
        }
        if let Some(Entry::File(new)) = self.entries.get(&id) {
            for (index, loaded) in new.resources.iter().enumerate() {
                let key = loaded.object.key();
                let places = self.definitions.entry(key.clone()).or_default();
                places.insert((id.clone(), index));
                update.keys.insert(key);
            }
        }
        if was_broken != is_broken {
            let path = id.path.to_path_buf();
            if is_broken {
                *self.broken.entry(path.clone()).or_default() += 1;
            } else if let Some(count) = self.broken.get_mut(&path) {
                *count -= 1;
                if *count == 0 {
                    self.broken.remove(&path);
                }
            }
            update.broken.insert(path);
        }
        update
            .keys
            .extend(self.state.keys_of(&id.path).into_iter().cloned());
        update.entries.insert(id);
    }

    /// Settles every touched object and the errors that depend on it; returns the changes to
    /// the model.
    pub(super) fn resolve(&mut self, mut update: Update) -> Vec<Change> {
        // A file kept (or no longer kept) because a directory above it broke.
        for path in &update.broken {
            let files = self.state.files_under(path);
            update.keys.extend(files.into_iter().flat_map(|file| {
                let keys = self.state.keys_of(&file);
                keys.into_iter().cloned().collect::<Vec<_>>()
            }));
        }
        let mut deletes = Vec::new();
        let mut upserts = Vec::new();
        let mut files = update.entries;
        for key in &update.keys {
            match self.resolve_key(key) {
                Some(Some(object)) => upserts.push(Change::Upsert(object)),
                Some(None) => deletes.push(Change::Delete(key.clone())),
                None => {}
            }
            let places = self.definitions.get(key).into_iter().flatten();
            files.extend(places.map(|(file, _)| file.clone()));
        }
        for file in files {
            match self.entry_errors(&file) {
                errors if errors.is_empty() => self.errors.remove(&file),
                errors => self.errors.insert(file, errors),
            };
        }
        deletes.extend(upserts);
        deletes
    }

    /// Applies `key`'s outcome: `Some(Some(object))` when it is upserted, `Some(None)` when it
    /// is deleted, `None` when the model keeps what it has.
    fn resolve_key(&mut self, key: &LoadedKey) -> Option<Option<LoadedObject>> {
        if let Some(place) = self.shadowed_at.remove(key) {
            self.shadowed.remove(&place);
        }
        let owner = self.owners.get(key).cloned();
        let first = self.definitions.get(key).and_then(|p| p.first()).cloned();
        let first = first.filter(|(file, _)| !self.is_broken(&file.path));
        if let Some(owner) = owner.as_ref().filter(|o| self.is_broken(o)) {
            // A broken file keeps its last good version; a definition elsewhere is reported.
            if let Some(place) = first {
                let kept = self.state.get(owner, key)?;
                let error = shadowed(self.loaded(&place)?, key, kept);
                self.shadowed.insert(place.clone(), error);
                self.shadowed_at.insert(key.clone(), place);
            }
            return None;
        }
        let before = owner.and_then(|owner| self.state.remove(&owner, key));
        self.owners.remove(key);
        let after = first.and_then(|place| Some((place.0.path.clone(), self.loaded(&place)?)));
        let after = after.map(|(path, loaded)| (path, loaded.clone()));
        let changed = match (&before, &after) {
            (None, None) => None,
            (Some(_), None) => Some(None),
            (Some(b), Some((_, a))) if b.object == a.object => None,
            (_, Some((_, a))) => Some(Some(a.object.clone())),
        };
        if let Some((path, loaded)) = after {
            self.owners.insert(key.clone(), path.to_path_buf());
            self.state.insert(path.to_path_buf(), key.clone(), loaded);
        }
        changed
    }

    /// An entry's errors as a load reports them: its own, and a duplicate error for each object
    /// defined before, in document order.
    fn entry_errors(&self, id: &FileId) -> Vec<LoadError> {
        let loaded = match self.entries.get(id) {
            None => return Vec::new(),
            Some(Entry::Unreadable(error)) => return vec![error.clone()],
            Some(Entry::File(loaded)) => loaded,
        };
        let mut errors = loaded.errors.clone();
        for (index, resource) in loaded.resources.iter().enumerate() {
            let key = resource.object.key();
            let first = self.definitions.get(&key).and_then(|p| p.first());
            let Some(first) = first.filter(|first| **first != (id.clone(), index)) else {
                continue;
            };
            if let Some(first) = self.loaded(first) {
                let origin = resource.origin.clone();
                errors.push(LoadError::duplicate(origin, &key, &first.origin));
            }
        }
        // Stable: a document's own errors and its duplicates never share a place.
        errors.sort_by(|a, b| {
            (a.origin.document, &a.origin.item).cmp(&(b.origin.document, &b.origin.item))
        });
        errors
    }

    fn loaded(&self, (file, index): &Place) -> Option<&Loaded> {
        match self.entries.get(file)? {
            Entry::File(loaded) => loaded.resources.get(*index),
            Entry::Unreadable(_) => None,
        }
    }

    /// Whether `path`, or a directory above it, has an error that is not a duplicate.
    fn is_broken(&self, path: &Path) -> bool {
        path.ancestors().any(|a| self.broken.contains_key(a))
    }
}
