//! Finds the configuration files of a directory tree.

use std::{
    collections::HashSet,
    fs, io,
    path::{Path, PathBuf},
};

/// A file to read, or an entry that could not be read.
pub(super) type Entry = Result<PathBuf, (PathBuf, io::Error)>;

/// Lists the `.yaml`, `.yml` and `.json` files under `dir` in a stable order (sorted by name,
/// depth first), with the directories that could not be read in their place.
///
/// Hidden files and directories are skipped: version control (`.git`), editor swap and lock
/// files, and the `..data` directories through which Kubernetes mounts a ConfigMap, whose files
/// are also linked from the mount itself and would otherwise be read twice.
pub(super) fn walk(dir: &Path) -> Vec<Entry> {
    let mut entries = Vec::new();
    walk_dir(dir, &mut HashSet::new(), &mut entries);
    entries
}

fn walk_dir(dir: &Path, visited: &mut HashSet<PathBuf>, out: &mut Vec<Entry>) {
    // Symbolic links are followed; a link back up the tree must not loop forever.
    match fs::canonicalize(dir) {
        Ok(real) => {
            if !visited.insert(real) {
                return;
            }
        }
        Err(error) => return out.push(Err((dir.to_path_buf(), error))),
    }
    let listed = fs::read_dir(dir).and_then(|entries| entries.collect::<Result<Vec<_>, _>>());
    let mut entries = match listed {
        Ok(entries) => entries,
        Err(error) => return out.push(Err((dir.to_path_buf(), error))),
    };
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if is_ignored(&name) {
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk_dir(&path, visited, out),
            Ok(_) if is_config_file(&name) => out.push(Ok(path)),
            Ok(_) => {}
            // A broken link named like a config file is worth reporting; any other is not ours.
            Err(error) if is_config_file(&name) => out.push(Err((path, error))),
            Err(_) => {}
        }
    }
}

/// Hidden entries and editor leftovers (`#draft.yaml#`, `~$draft.yaml`): a load skips them.
pub fn is_ignored(name: &str) -> bool {
    name.starts_with(['.', '#', '~'])
}

/// A `.yaml`, `.yml` or `.json` file name: a load reads such files only.
pub fn is_config_file(name: &str) -> bool {
    let extension = name.rsplit_once('.').map(|(_, e)| e);
    extension.is_some_and(|e| {
        ["yaml", "yml", "json"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_config_file("a.yaml"));
        assert!(is_config_file("a.YML"));
        assert!(is_config_file("a.b.json"));
        assert!(!is_config_file("a.yaml~"));
        assert!(!is_config_file("yaml"));
        assert!(!is_config_file("README.md"));
        assert!(is_ignored(".a.yaml.swp"));
        assert!(is_ignored("..data"));
        assert!(is_ignored("#a.yaml#"));
        assert!(!is_ignored("a.yaml"));
    }
}
