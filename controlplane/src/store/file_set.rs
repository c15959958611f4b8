//! The config directories file by file: each file's objects read on their own, so that a
//! change rereads only the files it touched.
//!
//! The incremental twin of [`reconcile`](super::reconcile): the outcome of a reread — the
//! changes to the model, the objects applied by file and the errors — is the one a load of
//! every directory followed by [`reconcile`](super::reconcile) would give (a test checks this
//! over random sequences of edits), at the cost of the files and objects that changed. Every
//! definition of every object is indexed by its place in load order, so a duplicate is
//! told apart from its first definition, and a broken file's last good objects are kept, without
//! looking at the other files.
//!
//! Which files to reread comes from the file watcher's paths. A path that is not a listed file
//! (a new file, a deleted one, a directory) lists the directories again, which is cheap: only
//! files new to the listing are read. What cannot be told from paths — a lost event, a change
//! inside a hidden directory (a ConfigMap mount swaps its `..data` link) — rereads everything.

mod resolve;

#[cfg(test)]
mod tests;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    fs,
    path::{Path, PathBuf},
    sync::Arc,
};

use mesh_common::load::{
    LoadError, LoadOptions, LoadResult, LoadedKey, is_config_file, is_ignored, list_files,
    load_file_alone,
};

use super::reconcile::{Change, PerFileState};

/// Every file of the config directories, read, and what is applied from them.
#[derive(Debug)]
pub struct FileSet {
    roots: Vec<Root>,
    options: LoadOptions,
    /// The listing, in load order: each file as read, and each entry that cannot be listed.
    entries: BTreeMap<FileId, Entry>,
    /// Where each object is defined, in load order: the first place is the one applied.
    definitions: HashMap<LoadedKey, BTreeSet<Place>>,
    /// What is applied, by file, as [`reconcile`](super::reconcile) keeps it.
    state: PerFileState,
    /// The file each applied object is applied from.
    owners: HashMap<LoadedKey, PathBuf>,
    /// Paths with an error that is not a duplicate (broken files, unreadable directories), with
    /// the number of entries that have that path.
    broken: BTreeMap<PathBuf, usize>,
    /// The errors of each listed entry that has any, duplicates included.
    errors: BTreeMap<FileId, Vec<LoadError>>,
    /// First definitions shadowed by a broken file's kept object, by place and by key.
    shadowed: BTreeMap<Place, LoadError>,
    shadowed_at: HashMap<LoadedKey, Place>,
    files_parsed: u64,
}

/// What to read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reread {
    /// List and read every file again.
    All,
    /// These paths changed, as the file watcher names them.
    Paths(Vec<ChangedPath>),
}

/// A path the file watcher reported.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ChangedPath {
    pub path: PathBuf,
    /// The event said the path is (or was) a directory.
    pub directory: bool,
}

/// What a reread did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RereadOutcome {
    /// The changes to the model, deletions first, each in key order.
    pub changes: Vec<Change>,
    /// How many files were read.
    pub files_parsed: usize,
    /// Whether the directories were listed again.
    pub listed: bool,
}

/// A config directory, and the other spellings of it the watcher may use.
#[derive(Debug)]
struct Root {
    path: PathBuf,
    aliases: Vec<PathBuf>,
}

/// A listed entry: its directory's index and its path as loaded (the directory joined with the
/// path below it), which orders entries as a load reads them.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct FileId {
    root: usize,
    path: Arc<Path>,
}

/// A definition: its file and its index among the file's objects.
type Place = (FileId, usize);

#[derive(Debug)]
enum Entry {
    /// A file as read on its own: every object it defines, and its errors.
    File(LoadResult),
    /// A directory or a link the listing could not follow.
    Unreadable(LoadError),
}

// === impl FileSet ===

impl FileSet {
    /// Reads every file of `dirs`.
    pub fn new(dirs: &[PathBuf], options: LoadOptions) -> (Self, RereadOutcome) {
        let roots = dirs.iter().map(|dir| Root::new(dir)).collect();
        let mut set = FileSet {
            roots,
            options,
            entries: BTreeMap::new(),
            definitions: HashMap::new(),
            state: PerFileState::default(),
            owners: HashMap::new(),
            broken: BTreeMap::new(),
            errors: BTreeMap::new(),
            shadowed: BTreeMap::new(),
            shadowed_at: HashMap::new(),
            files_parsed: 0,
        };
        let outcome = set.reread(Reread::All);
        (set, outcome)
    }

    /// Reads again what `reread` names, and applies it.
    pub fn reread(&mut self, reread: Reread) -> RereadOutcome {
        let (listed, reparse) = match reread {
            Reread::All => (true, None),
            Reread::Paths(paths) => match self.plan(&paths) {
                Some((relist, reparse)) => (relist, Some(reparse)),
                None => (true, None),
            },
        };
        let mut update = resolve::Update::default();
        let mut files_parsed = 0;
        let mut read = |set: &mut FileSet, id: FileId, update: &mut resolve::Update| {
            files_parsed += 1;
            let loaded = load_file_alone(&id.path, &set.options);
            set.replace(id, Some(Entry::File(loaded)), update);
        };
        if listed {
            let listing = self.list();
            let gone: Vec<FileId> = self
                .entries
                .keys()
                .filter(|id| !listing.contains_key(*id))
                .cloned()
                .collect();
            for id in gone {
                self.replace(id, None, &mut update);
            }
            for (id, unreadable) in listing {
                match (unreadable, self.entries.get(&id), &reparse) {
                    (Some(error), Some(Entry::Unreadable(old)), _) if *old == error => {}
                    (Some(error), _, _) => {
                        self.replace(id, Some(Entry::Unreadable(error)), &mut update)
                    }
                    // Listed before and not named by the watcher: unchanged.
                    (None, Some(Entry::File(_)), Some(reparse)) if !reparse.contains(&id) => {}
                    (None, _, _) => read(self, id, &mut update),
                }
            }
        } else {
            for id in reparse.unwrap_or_default() {
                read(self, id, &mut update);
            }
        }
        self.files_parsed += files_parsed as u64;
        RereadOutcome {
            changes: self.resolve(update),
            files_parsed,
            listed,
        }
    }

    /// What is applied, by file.
    pub fn state(&self) -> &PerFileState {
        &self.state
    }

    /// Every error, as a load of every directory and [`reconcile`](super::reconcile) would
    /// report them: each file's in load order, then the definitions shadowed by a kept object.
    pub fn errors(&self) -> Vec<LoadError> {
        let errors = self.errors.values().flatten();
        errors.chain(self.shadowed.values()).cloned().collect()
    }

    /// How many files were read since the set was made.
    pub fn files_parsed(&self) -> u64 {
        self.files_parsed
    }

    /// The files to read again for `paths`, and whether to list the directories again; `None`
    /// when everything must be read again.
    fn plan(&self, paths: &[ChangedPath]) -> Option<(bool, BTreeSet<FileId>)> {
        let mut relist = false;
        let mut reparse = BTreeSet::new();
        for changed in paths {
            let ids = self.ids_of(&changed.path);
            if ids.is_empty() {
                // Outside every directory: the target of a linked directory, say.
                return None;
            }
            for (id, below) in ids {
                let names: Vec<String> = below
                    .iter()
                    .map(|name| name.to_string_lossy().into_owned())
                    .collect();
                let is_dir = id.path.is_dir();
                if let Some(hidden) = names.iter().position(|name| is_ignored(name)) {
                    // A hidden file (an editor's temporary copy) is never read; a hidden directory
                    // may be what listed files link into.
                    if hidden + 1 == names.len() && !changed.directory && !is_dir {
                        continue;
                    }
                    return None;
                }
                let is_file = fs::metadata(&id.path).is_ok_and(|m| !m.is_dir());
                match self.entries.get(&id) {
                    Some(Entry::File(_)) if is_file => {
                        reparse.insert(id);
                    }
                    _ => {
                        let config = names.last().is_some_and(|name| is_config_file(name));
                        if config || is_dir || changed.directory || self.has_under(&id) {
                            relist = true;
                        }
                    }
                }
            }
        }
        Some((relist, reparse))
    }

    /// The entries `path` stands for, with its components below its directory: one per
    /// directory it is in.
    fn ids_of(&self, path: &Path) -> Vec<(FileId, Vec<std::ffi::OsString>)> {
        let mut ids = Vec::new();
        for (index, root) in self.roots.iter().enumerate() {
            let below = root.aliases.iter().find_map(|a| path.strip_prefix(a).ok());
            let Some(below) = below else { continue };
            let full = if below.as_os_str().is_empty() {
                root.path.clone()
            } else {
                root.path.join(below)
            };
            let names = below.iter().map(ToOwned::to_owned).collect();
            ids.push((
                FileId {
                    root: index,
                    path: Arc::from(full),
                },
                names,
            ));
        }
        ids
    }

    /// Whether any entry is `id` or below it.
    fn has_under(&self, id: &FileId) -> bool {
        let mut after = self.entries.range(id.clone()..);
        after
            .next()
            .is_some_and(|(next, _)| next.root == id.root && next.path.starts_with(&id.path))
    }

    /// Every directory's listing: each entry, and the error of one that cannot be read.
    fn list(&self) -> BTreeMap<FileId, Option<LoadError>> {
        let mut listing = BTreeMap::new();
        for (index, root) in self.roots.iter().enumerate() {
            for entry in list_files(&root.path) {
                let (path, error) = match entry {
                    Ok(path) => (path, None),
                    Err(error) => (error.origin.file.clone(), Some(error)),
                };
                let id = FileId {
                    root: index,
                    path: Arc::from(path),
                };
                listing.entry(id).or_insert(error);
            }
        }
        listing
    }
}

// === impl Root ===

impl Root {
    fn new(dir: &Path) -> Self {
        let mut aliases = vec![dir.to_path_buf()];
        // The watcher names paths below the directory as it was given, made absolute.
        if let Ok(absolute) = std::path::absolute(dir) {
            aliases.push(absolute);
        }
        if let Ok(current) = std::env::current_dir() {
            aliases.push(current.join(dir));
        }
        if let Ok(canonical) = fs::canonicalize(dir) {
            aliases.push(canonical);
        }
        aliases.dedup();
        Root {
            path: dir.to_path_buf(),
            aliases,
        }
    }
}

// === impl Entry ===

impl Entry {
    /// Whether the entry has an error that is not a duplicate.
    fn is_broken(&self) -> bool {
        match self {
            Entry::File(loaded) => !loaded.errors.is_empty(),
            Entry::Unreadable(_) => true,
        }
    }
}
