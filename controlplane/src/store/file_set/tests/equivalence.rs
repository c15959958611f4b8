//! Random edits of two directories: after each, the incremental reread gives what a full load
//! and [`reconcile`] give — the same changes, the same objects by file, the same errors.

use std::{fs, path::PathBuf};

use mesh_common::load::{LoadOptions, Loader};
use pretty_assertions::assert_eq;

use super::*;
use crate::store::reconcile::{PerFileState, reconcile};

/// Files the edits choose from, relative to a directory.
const NAMES: &[&str] = &[
    "a.yaml",
    "b.yaml",
    "c.json",
    "sub/d.yaml",
    "sub/e.yaml",
    "sub/x/f.yml",
];
/// Rounds per seed: each makes one to three edits, then rereads.
const ROUNDS: usize = 120;

/// A small deterministic generator (xorshift): no dependency, the same sequence everywhere.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A file of a few objects from a small set of names, so that files often define the same
/// object; sometimes broken, sometimes JSON.
fn content(random: &mut Random, json: bool) -> String {
    let count = random.below(4);
    let mut documents = Vec::new();
    for _ in 0..count {
        let name = format!("o{}", random.below(5));
        let port = 80 + random.below(3);
        documents.push(match random.below(7) {
            0 => "{broken: [".to_string(),
            1 | 2 => format!(
                r#"{{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {{"name": "{name}"}}, "spec": {{"hosts": ["h{port}"]}}}}"#
            ),
            _ => format!(
                r#"{{"apiVersion": "v1", "kind": "Service", "metadata": {{"name": "{name}"}}, "spec": {{"ports": [{{"port": {port}}}]}}}}"#
            ),
        });
    }
    if json {
        // JSON stops at its first error; an array keeps the rest.
        format!("[{}]", documents.join(", "))
    } else {
        documents.join("\n---\n")
    }
}

fn full_load(dirs: &[PathBuf]) -> LoadResult {
    let mut loader = Loader::new(LoadOptions::default());
    for dir in dirs {
        loader.add_path(dir);
    }
    loader.finish()
}

/// One random edit under one of `dirs`; returns the paths a watcher would name.
fn edit(random: &mut Random, dirs: &[PathBuf]) -> Vec<ChangedPath> {
    let dir = &dirs[random.below(dirs.len())];
    let name = NAMES[random.below(NAMES.len())];
    let path = dir.join(name);
    let changed = |path: PathBuf, directory| ChangedPath { path, directory };
    match random.below(10) {
        0..=5 => {
            let parent = path.parent().unwrap();
            let created = !parent.exists();
            fs::create_dir_all(parent).unwrap();
            fs::write(&path, content(random, name.ends_with(".json"))).unwrap();
            let mut paths = vec![changed(path.clone(), false)];
            if created {
                paths.push(changed(dir.join("sub"), true));
            }
            paths
        }
        6 | 7 => {
            let _ = fs::remove_file(&path);
            vec![changed(path, false)]
        }
        8 => {
            let to = dir.join(NAMES[random.below(NAMES.len())]);
            if path.exists() && to.parent().is_some_and(Path::exists) {
                fs::rename(&path, &to).unwrap();
            }
            vec![changed(path, false), changed(to, false)]
        }
        _ => {
            let sub = dir.join("sub");
            let _ = fs::remove_dir_all(&sub);
            vec![changed(sub, true)]
        }
    }
}

fn check(seed: u64) {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let dirs = vec![first.path().to_path_buf(), second.path().to_path_buf()];
    let mut random = Random(seed);
    let (mut set, _) = FileSet::new(&dirs, LoadOptions::default());
    let mut state = PerFileState::default();
    for round in 0..ROUNDS {
        let mut changed = Vec::new();
        for _ in 0..=random.below(3) {
            changed.extend(edit(&mut random, &dirs));
        }
        let reread = if random.below(20) == 0 {
            Reread::All
        } else {
            Reread::Paths(changed)
        };
        let incremental = set.reread(reread);
        let full = reconcile(&state, full_load(&dirs));
        let context = format!("seed {seed}, round {round}");
        assert_eq!(incremental.changes, full.changes, "{context}: changes");
        assert_eq!(set.state(), &full.state, "{context}: objects by file");
        assert_eq!(set.errors(), full.errors, "{context}: errors");
        state = full.state;
    }
}

#[test]
fn random_edits_give_what_a_full_reload_gives() {
    for seed in [0x9e37_79b9_7f4a_7c15, 42, 7_777_777] {
        check(seed);
    }
}
