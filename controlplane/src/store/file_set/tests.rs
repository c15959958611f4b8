//! Rereads of real directories: what is read again, and that the outcome is a full reload's.

mod equivalence;

use std::{fs, path::Path};

use mesh_common::load::LoadOptions;
use pretty_assertions::assert_eq;

use super::*;

fn service(name: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n\
         spec: {{ports: [{{port: {port}}}]}}\n"
    )
}

const BROKEN: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: [\n";

/// Each change as `upsert Kind namespace/name` or `delete Kind namespace/name`.
fn changes(outcome: &RereadOutcome) -> Vec<String> {
    let show = |change: &Change| match change {
        Change::Delete(key) => format!("delete {key}"),
        Change::Upsert(object) => format!("upsert {}", object.key()),
    };
    outcome.changes.iter().map(show).collect()
}

/// Each file with the keys applied from it, relative to `root`.
fn owners(set: &FileSet, root: &Path) -> Vec<String> {
    let state = set.state();
    let show = |file: &Path| {
        let keys: Vec<_> = state
            .keys_of(file)
            .iter()
            .map(ToString::to_string)
            .collect();
        let name = file.strip_prefix(root).unwrap_or(file);
        format!("{}: {}", name.display(), keys.join(", "))
    };
    state.files().map(show).collect()
}

fn errors(set: &FileSet, root: &Path) -> Vec<String> {
    let prefix = format!("{}/", root.display());
    let show = |e: &LoadError| e.to_string().replace(&prefix, "");
    set.errors().iter().map(show).collect()
}

fn paths(paths: &[&Path]) -> Reread {
    let changed = paths.iter().map(|path| ChangedPath {
        path: path.to_path_buf(),
        directory: false,
    });
    Reread::Paths(changed.collect())
}

/// A directory of `count` files, one Service each, read.
fn many(count: usize) -> (tempfile::TempDir, FileSet) {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..count {
        let name = format!("s{i:02}");
        fs::write(dir.path().join(format!("{name}.yaml")), service(&name, 80)).unwrap();
    }
    let (set, first) = FileSet::new(&[dir.path().to_path_buf()], LoadOptions::default());
    assert_eq!(first.files_parsed, count);
    assert_eq!(first.changes.len(), count);
    (dir, set)
}

#[test]
fn an_edit_of_one_file_among_many_reads_only_that_file() {
    let (dir, mut set) = many(20);
    let file = dir.path().join("s07.yaml");
    fs::write(&file, service("s07", 8080)).unwrap();
    let outcome = set.reread(paths(&[&file]));
    assert_eq!(changes(&outcome), vec!["upsert Service default/s07"]);
    assert_eq!((outcome.files_parsed, outcome.listed), (1, false));
    assert_eq!(set.files_parsed(), 21);

    // Rewritten the same: read, and nothing changes.
    let outcome = set.reread(paths(&[&file]));
    assert_eq!(changes(&outcome), Vec::<String>::new());
    assert_eq!(outcome.files_parsed, 1);
}

#[test]
fn an_editors_temporary_file_is_not_read() {
    let (dir, mut set) = many(3);
    let temporary = dir.path().join(".s01.yaml.tmp");
    fs::write(&temporary, service("s01", 8080)).unwrap();
    let outcome = set.reread(paths(&[&temporary]));
    assert_eq!((outcome.files_parsed, outcome.listed), (0, false));
    assert_eq!(changes(&outcome), Vec::<String>::new());

    // Renamed over the file: the watcher names both paths.
    let file = dir.path().join("s01.yaml");
    fs::rename(&temporary, &file).unwrap();
    let outcome = set.reread(paths(&[&temporary, &file]));
    assert_eq!(changes(&outcome), vec!["upsert Service default/s01"]);
    assert_eq!((outcome.files_parsed, outcome.listed), (1, false));
}

#[test]
fn a_deleted_file_removes_exactly_its_objects() {
    let (dir, mut set) = many(4);
    let file = dir.path().join("s02.yaml");
    fs::remove_file(&file).unwrap();
    let outcome = set.reread(paths(&[&file]));
    assert_eq!(changes(&outcome), vec!["delete Service default/s02"]);
    assert_eq!((outcome.files_parsed, outcome.listed), (0, true));
    assert_eq!(
        owners(&set, dir.path()),
        vec![
            "s00.yaml: Service default/s00",
            "s01.yaml: Service default/s01",
            "s03.yaml: Service default/s03",
        ]
    );
}

#[test]
fn a_renamed_file_moves_its_objects_and_changes_nothing() {
    let (dir, mut set) = many(3);
    let (from, to) = (dir.path().join("s00.yaml"), dir.path().join("z.yaml"));
    fs::rename(&from, &to).unwrap();
    let outcome = set.reread(paths(&[&from, &to]));
    assert_eq!(changes(&outcome), Vec::<String>::new());
    assert_eq!((outcome.files_parsed, outcome.listed), (1, true));
    assert_eq!(
        owners(&set, dir.path()),
        vec![
            "s01.yaml: Service default/s01",
            "s02.yaml: Service default/s02",
            "z.yaml: Service default/s00",
        ]
    );
}

#[test]
fn a_file_that_breaks_keeps_its_objects_until_it_is_fixed_and_breaks_again() {
    let (dir, mut set) = many(2);
    let file = dir.path().join("s01.yaml");
    fs::write(&file, format!("{}---\n{BROKEN}", service("s01", 9090))).unwrap();
    let outcome = set.reread(paths(&[&file]));
    assert_eq!(changes(&outcome), Vec::<String>::new());
    assert_eq!(
        errors(&set, dir.path()),
        vec!["s01.yaml:8: unclosed bracket '['"]
    );
    assert_eq!(
        owners(&set, dir.path()),
        vec![
            "s00.yaml: Service default/s00",
            "s01.yaml: Service default/s01"
        ]
    );

    // Fixed, with another object: the new content applies.
    fs::write(&file, service("other", 80)).unwrap();
    let outcome = set.reread(paths(&[&file]));
    assert_eq!(
        changes(&outcome),
        vec!["delete Service default/s01", "upsert Service default/other"]
    );
    assert_eq!(errors(&set, dir.path()), Vec::<String>::new());

    // Broken again: what last loaded stays.
    fs::write(&file, BROKEN).unwrap();
    let outcome = set.reread(paths(&[&file]));
    assert_eq!(changes(&outcome), Vec::<String>::new());
    assert_eq!(
        errors(&set, dir.path()),
        vec!["s01.yaml:3: unclosed bracket '['"]
    );
    assert_eq!(
        owners(&set, dir.path()),
        vec![
            "s00.yaml: Service default/s00",
            "s01.yaml: Service default/other"
        ]
    );
}

#[test]
fn a_directory_created_with_files_in_it_reads_those_files() {
    let (dir, mut set) = many(5);
    let sub = dir.path().join("new");
    fs::create_dir(&sub).unwrap();
    fs::write(sub.join("a.yaml"), service("a", 80)).unwrap();
    fs::write(
        sub.join("b.json"),
        r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}}"#,
    )
    .unwrap();
    fs::write(sub.join("README.md"), "not config").unwrap();
    let outcome = set.reread(Reread::Paths(vec![ChangedPath {
        path: sub.clone(),
        directory: true,
    }]));
    assert_eq!(
        changes(&outcome),
        vec!["upsert Service default/a", "upsert Service default/b"]
    );
    assert_eq!((outcome.files_parsed, outcome.listed), (2, true));

    // Removed whole: its objects go.
    fs::remove_dir_all(&sub).unwrap();
    let outcome = set.reread(Reread::Paths(vec![ChangedPath {
        path: sub,
        directory: true,
    }]));
    assert_eq!(
        changes(&outcome),
        vec!["delete Service default/a", "delete Service default/b"]
    );
    assert_eq!(outcome.files_parsed, 0);
}

#[test]
fn a_duplicate_in_a_later_file_applies_once_the_first_is_gone() {
    let (dir, mut set) = many(1);
    let second = dir.path().join("t.yaml");
    fs::write(&second, service("s00", 9090)).unwrap();
    let outcome = set.reread(paths(&[&second]));
    assert_eq!(changes(&outcome), Vec::<String>::new());
    assert_eq!(
        errors(&set, dir.path()),
        vec!["t.yaml:1: Service default/s00: duplicate resource, first defined at s00.yaml:1"]
    );

    let first = dir.path().join("s00.yaml");
    fs::remove_file(&first).unwrap();
    let outcome = set.reread(paths(&[&first]));
    assert_eq!(changes(&outcome), vec!["upsert Service default/s00"]);
    assert_eq!(errors(&set, dir.path()), Vec::<String>::new());
    assert_eq!(
        owners(&set, dir.path()),
        vec!["t.yaml: Service default/s00"]
    );
}

#[test]
fn a_path_outside_the_directories_or_in_a_hidden_directory_rereads_everything() {
    let (dir, mut set) = many(3);
    let outcome = set.reread(paths(&[Path::new("/elsewhere/a.yaml")]));
    assert_eq!((outcome.files_parsed, outcome.listed), (3, true));
    fs::create_dir(dir.path().join("..data")).unwrap();
    let outcome = set.reread(paths(&[&dir.path().join("..data")]));
    assert_eq!((outcome.files_parsed, outcome.listed), (3, true));
    assert_eq!(changes(&outcome), Vec::<String>::new());
}
