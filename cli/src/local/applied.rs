//! `meshctl local apply` and `delete`: the user's Istio config, checked and then stored one
//! object per file in the directory the control plane watches — so that applying an object
//! again replaces it wherever it was first applied from, as `kubectl apply` does.

use std::{
    fs,
    path::{Path, PathBuf},
};

use mesh_common::load::{LoadOptions, LoadedKey, load_path, load_str};

use super::{LocalError, io, state::StateDir, state::write_atomically};

/// Checks the Istio config at `path` (a file, or the `.yaml`/`.yml`/`.json` files directly in a
/// directory) and stores each of its objects in the control plane's user config directory,
/// replacing an earlier version of the same object. Nothing is stored when any file has an
/// error. Returns the files applied.
pub fn apply_config(dir: &StateDir, path: &Path) -> Result<Vec<PathBuf>, LocalError> {
    let files = config_files(path)?;
    let mut errors = Vec::new();
    for file in &files {
        let loaded = load_path(file, &LoadOptions::default());
        errors.extend(loaded.errors.iter().map(ToString::to_string));
    }
    if !errors.is_empty() {
        return Err(LocalError::Config(format!(
            "{} not applied:\n  {}",
            path.display(),
            errors.join("\n  ")
        )));
    }
    let target = dir.user_config_dir();
    for file in &files {
        let text = fs::read_to_string(file).map_err(io(format!("read {}", file.display())))?;
        for (key, document) in objects(&text, file) {
            let name = object_file_name(&key);
            // Written beside and renamed, under a hidden name the control plane does not read.
            write_atomically(
                &target.join(format!(".{name}.tmp")),
                &target.join(&name),
                &document,
            )?;
        }
    }
    Ok(files)
}

/// Removes the objects `path` defines from the user config. Returns the files whose objects
/// were removed; an error when none of them was applied.
pub fn delete_config(dir: &StateDir, path: &Path) -> Result<Vec<PathBuf>, LocalError> {
    let mut removed = Vec::new();
    for file in config_files(path)? {
        let text = fs::read_to_string(&file).map_err(io(format!("read {}", file.display())))?;
        let mut any = false;
        for (key, _) in objects(&text, &file) {
            let applied = dir.user_config_dir().join(object_file_name(&key));
            if applied.exists() {
                fs::remove_file(&applied).map_err(io(format!("remove {}", applied.display())))?;
                any = true;
            }
        }
        if any {
            removed.push(file);
        }
    }
    if removed.is_empty() {
        return Err(LocalError::Config(format!(
            "{} was not applied",
            path.display()
        )));
    }
    Ok(removed)
}

/// The objects of a checked file with the text of the document each came from. A `List`
/// document is kept whole, under its first object's name.
fn objects(text: &str, file: &Path) -> Vec<(LoadedKey, String)> {
    documents(text)
        .into_iter()
        .filter_map(|document| {
            let loaded = load_str(&document, file, &LoadOptions::default());
            let key = loaded.resources.first()?.object.key();
            Some((key, document))
        })
        .collect()
}

/// Splits YAML text at its `---` separator lines.
fn documents(text: &str) -> Vec<String> {
    let mut documents = vec![String::new()];
    for line in text.lines() {
        if line.trim_end() == "---" || line.starts_with("--- ") {
            documents.push(String::new());
        } else if let Some(current) = documents.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.retain(|d| {
        d.lines()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
    });
    documents
}

/// `virtualservice.default.reviews.yaml`: one file per object, so a later apply replaces it.
fn object_file_name(key: &LoadedKey) -> String {
    let kind = key.kind.to_string().to_ascii_lowercase();
    if key.namespace.is_empty() {
        format!("{kind}.{}.yaml", key.name)
    } else {
        format!("{kind}.{}.{}.yaml", key.namespace, key.name)
    }
}

/// The config files `path` names: itself, or the `.yaml`, `.yml` and `.json` files directly in
/// it, sorted.
fn config_files(path: &Path) -> Result<Vec<PathBuf>, LocalError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(path).map_err(io(format!("read {}", path.display())))? {
        let file = entry
            .map_err(io(format!("read {}", path.display())))?
            .path();
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let config = [".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e));
        if config && !name.starts_with('.') && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_split_at_separator_lines_and_skip_empty_ones() {
        let text = "# leading comment\n---\na: 1\n---\n# only a comment\n---   \nb: 2\n";
        assert_eq!(documents(text), ["a: 1\n", "b: 2\n"]);
    }
}
