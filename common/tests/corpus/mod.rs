//! The corpus of `tests/data/`: Istio resources as users write them, one theme per file.

pub mod schema;

use std::{fs, path::PathBuf};

/// One YAML document of the corpus, parsed to JSON as a loader would before decoding it.
#[derive(Debug)]
pub struct Document {
    /// `file.yaml#2`: the file and the document's position in it, for assertion messages.
    pub origin: String,
    pub value: serde_json::Value,
}

/// Every document of every `*.yaml` file under `tests/data/`, in file-name order.
pub fn documents() -> Vec<Document> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/data is readable")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "tests/data holds no YAML files");

    let mut documents = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned();
        let text = fs::read_to_string(&file).expect("a corpus file is UTF-8");
        let values: Vec<serde_json::Value> = serde_saphyr::from_multiple(&text)
            .unwrap_or_else(|error| panic!("{name} is not YAML: {error}"));
        assert!(!values.is_empty(), "{name} holds no document");
        documents.extend(values.into_iter().enumerate().map(|(i, value)| Document {
            origin: format!("{name}#{i}"),
            value,
        }));
    }
    documents
}

/// The value as Istio compares it: every number as a float, so that `value: 50` written by a
/// user and the `value: 50.0` that a `f64` field writes back compare equal; and a field set to
/// `""` as if it were not set, since in Istio's (proto3) API an empty string is the unset value,
/// as in the `group: ""` of a `targetRef` to a core Service. Any other change still shows.
pub fn normalized(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Null, Value::from),
        Value::Array(items) => items.iter().map(normalized).collect(),
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| v.as_str() != Some(""))
            .map(|(k, v)| (k.clone(), normalized(v)))
            .collect(),
        other => other.clone(),
    }
}
