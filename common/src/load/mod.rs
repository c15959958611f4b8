//! Reading resources from files, directories and YAML or JSON streams.
//!
//! Everything a user writes passes through here first: the control plane's file store watches a
//! directory with it, and `meshctl analyze -f` and `meshctl local apply -f` read their files
//! with it. Each document is parsed and decoded on its own, so a bad document is reported with
//! its place (file, line, kind and name) and the others are still read. No input makes the
//! loader panic; `common/fuzz` holds its fuzz target.
//!
//! Besides Istio's kinds, the loader reads the Kubernetes objects a mesh is built from
//! (`Namespace`, `Service`, `Pod`, `EndpointSlice`), so that a directory can describe a whole
//! mesh with no cluster.
//!
//! A file is a stream of YAML documents separated by `---`, or JSON: one object, a stream of
//! objects, or an array of them. A Kubernetes `List` (what `kubectl get -o yaml` prints) stands
//! for its items.

mod object;
mod parse;
mod split;
mod walk;

use std::{
    borrow::Cow,
    collections::HashMap,
    fmt, fs,
    io::Read,
    path::{Path, PathBuf},
};

use serde_json::Value;

use self::{
    object::ObjectError,
    parse::{Document, Format},
};
pub use self::{
    object::{LoadedKey, LoadedKind, LoadedObject},
    walk::{is_config_file, is_ignored},
};
use crate::{api::UnknownField, path::FieldPath};

/// How resources are read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// The namespace of resources that name none, as `kubectl apply -n` gives it.
    pub default_namespace: String,
    /// Larger files are reported rather than read, so that a stray file cannot exhaust memory.
    pub max_file_bytes: u64,
}

/// Where a resource or an error was read.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    /// The file, or the name given to a stream that is not one (such as `<stdin>`).
    pub file: PathBuf,
    /// The 0-based index of the document among the file's non-empty documents.
    pub document: usize,
    /// The 1-based line where the document's content begins; for a syntax error, the line of
    /// the error. 0 when the file as a whole could not be read.
    pub line: usize,
    /// The resource's place in its document when the document is a list: `items[2]` in a
    /// Kubernetes `List`, `[2]` in a JSON array.
    pub item: Option<FieldPath>,
}

/// An object that was read, with its origin.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub origin: Origin,
    /// The `apiVersion` the document was written in.
    pub api_version: String,
    /// The object, its namespace defaulted (a Namespace has none).
    pub object: LoadedObject,
    /// Fields the document sets that the object's type does not have, with their values:
    /// never dropped silently, so that validation and `meshctl analyze` can name them.
    pub unknown_fields: Vec<UnknownField>,
}

/// A document that could not be read as a resource.
///
/// Displays as an operator wants to read it:
/// `reviews.yaml:12: VirtualService default/reviews: spec.http[0].route[0].weight: invalid
/// type: string "ten", expected i32`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub origin: Origin,
    /// The document's `kind`, when it names one.
    pub kind: Option<String>,
    /// The document's namespace (or the default one), when the document has a name.
    pub namespace: Option<String>,
    /// The document's `metadata.name`, when it has one.
    pub name: Option<String>,
    /// What is wrong, without the origin, kind or name.
    pub reason: String,
    /// For a second definition of an object, where the first one is: the document itself is
    /// fine, and a reader that applies files whole need not hold it against its file.
    pub first_defined: Option<Origin>,
}

/// Everything one load read: the objects in the order they were read, and every error.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoadResult {
    /// Istio resources and Kubernetes objects alike.
    pub resources: Vec<Loaded>,
    pub errors: Vec<LoadError>,
}

/// Reads several sources as one load: a resource defined twice, even in two files, is reported.
///
/// The first definition is kept; each later one is an error that points at the first.
#[derive(Debug)]
pub struct Loader {
    options: LoadOptions,
    first_defined: HashMap<LoadedKey, Origin>,
    /// False for a reader that tells duplicates apart itself ([`load_file_alone`]).
    check_duplicates: bool,
    result: LoadResult,
}

/// Reads a stream, naming it `name` in origins; `name`'s extension tells JSON from YAML.
pub fn load_str(text: &str, name: &Path, options: &LoadOptions) -> LoadResult {
    let mut loader = Loader::new(options.clone());
    loader.add_str(text, name);
    loader.finish()
}

/// Reads one file, whatever its name.
pub fn load_file(path: &Path, options: &LoadOptions) -> LoadResult {
    let mut loader = Loader::new(options.clone());
    loader.add_file(path);
    loader.finish()
}

/// Reads one file on its own and keeps every object it defines, a second definition included:
/// for a reader that keeps each file's objects apart and finds duplicates across files itself
/// (the control plane's file store rereads only the files that changed).
pub fn load_file_alone(path: &Path, options: &LoadOptions) -> LoadResult {
    let mut loader = Loader::new(options.clone());
    loader.check_duplicates = false;
    loader.add_file(path);
    loader.finish()
}

/// The configuration files under `path` in the order a load reads them, with each entry that
/// cannot be read as an error in its place; `path` itself when it is not a directory.
// Each entry is made once and moved at once: boxing the error would cost for nothing.
#[allow(clippy::result_large_err)]
pub fn list_files(path: &Path) -> Vec<Result<PathBuf, LoadError>> {
    if !path.is_dir() {
        return vec![Ok(path.to_path_buf())];
    }
    let entries = walk::walk(path).into_iter();
    entries
        .map(|entry| {
            entry.map_err(|(file, error)| {
                LoadError::new(Origin::whole_file(&file), format!("cannot read: {error}"))
            })
        })
        .collect()
}

/// Reads a file, or every configuration file under a directory.
pub fn load_path(path: &Path, options: &LoadOptions) -> LoadResult {
    let mut loader = Loader::new(options.clone());
    loader.add_path(path);
    loader.finish()
}

// === impl LoadOptions ===

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            default_namespace: "default".to_string(),
            max_file_bytes: 64 * 1024 * 1024,
        }
    }
}

// === impl Origin ===

impl Origin {
    /// The origin of a file that could not be read at all.
    fn whole_file(file: &Path) -> Self {
        Origin {
            file: file.to_path_buf(),
            document: 0,
            line: 0,
            item: None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if let Some(item) = &self.item {
            write!(f, " ({item})")?;
        }
        Ok(())
    }
}

// === impl LoadError ===

impl LoadError {
    /// A second definition of `key`, at `origin`, of the object first defined at `first`.
    pub fn duplicate(origin: Origin, key: &LoadedKey, first: &Origin) -> Self {
        LoadError {
            kind: Some(key.kind.to_string()),
            namespace: Some(key.namespace.clone()).filter(|n| !n.is_empty()),
            name: Some(key.name.clone()),
            first_defined: Some(first.clone()),
            ..LoadError::new(
                origin,
                format!("duplicate resource, first defined at {first}"),
            )
        }
    }

    fn new(origin: Origin, reason: impl Into<String>) -> Self {
        LoadError {
            origin,
            kind: None,
            namespace: None,
            name: None,
            reason: reason.into(),
            first_defined: None,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.origin)?;
        let name = match (&self.namespace, &self.name) {
            (Some(namespace), Some(name)) => Some(format!("{namespace}/{name}")),
            (None, Some(name)) => Some(name.clone()),
            _ => None,
        };
        match (&self.kind, name) {
            (Some(kind), Some(name)) => write!(f, "{kind} {name}: ")?,
            (Some(kind), None) => write!(f, "{kind}: ")?,
            (None, Some(name)) => write!(f, "{name}: ")?,
            (None, None) => {}
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for LoadError {}

// === impl Loader ===

impl Loader {
    /// A load that has read nothing yet.
    pub fn new(options: LoadOptions) -> Self {
        Loader {
            options,
            first_defined: HashMap::new(),
            check_duplicates: true,
            result: LoadResult::default(),
        }
    }

    /// Reads a stream, naming it `name` in origins; `name`'s extension tells JSON from YAML,
    /// and a stream of another name is JSON when it starts with `{` or `[`.
    pub fn add_str(&mut self, text: &str, name: &Path) {
        let text = normalize(text);
        let format = Format::of(name, &text);
        for parsed in parse::parse(&text, format) {
            match parsed {
                Ok(document) => self.add_document(name, document, format),
                Err(error) => {
                    let origin = Origin {
                        file: name.to_path_buf(),
                        document: error.index,
                        line: error.line,
                        item: None,
                    };
                    self.result
                        .errors
                        .push(LoadError::new(origin, error.reason));
                }
            }
        }
    }

    /// Reads one file, whatever its name. A file that cannot be read is an error of the load.
    pub fn add_file(&mut self, path: &Path) {
        match read(path, self.options.max_file_bytes) {
            Ok(text) => self.add_str(&text, path),
            Err((line, reason)) => {
                let origin = Origin {
                    line,
                    ..Origin::whole_file(path)
                };
                self.result.errors.push(LoadError::new(origin, reason));
            }
        }
    }

    /// Reads a file, or every configuration file under a directory (see [`load_path`]).
    pub fn add_path(&mut self, path: &Path) {
        for entry in list_files(path) {
            match entry {
                Ok(file) => self.add_file(&file),
                Err(error) => self.result.errors.push(error),
            }
        }
    }

    /// Everything read, in the order it was added.
    pub fn finish(self) -> LoadResult {
        self.result
    }

    fn add_document(&mut self, file: &Path, document: Document, format: Format) {
        let origin = Origin {
            file: file.to_path_buf(),
            document: document.index,
            line: document.line,
            item: None,
        };
        match items(&document.value, format) {
            Ok(items) => {
                for (item, value) in items {
                    let origin = Origin {
                        item,
                        ..origin.clone()
                    };
                    self.add_resource(origin, value);
                }
            }
            Err(reason) => {
                let mut error = LoadError::new(origin, reason);
                error.kind = document.value["kind"].as_str().map(str::to_string);
                self.result.errors.push(error);
            }
        }
    }

    fn add_resource(&mut self, origin: Origin, value: &Value) {
        let mut decoded = match object::decode(value) {
            Ok(decoded) => decoded,
            Err(error) => {
                let error = self.decode_error(origin, value, &error);
                return self.result.errors.push(error);
            }
        };
        decoded
            .object
            .default_namespace(&self.options.default_namespace);
        if self.check_duplicates {
            let key = decoded.object.key();
            if let Some(first) = self.first_defined.get(&key) {
                let error = LoadError::duplicate(origin, &key, first);
                return self.result.errors.push(error);
            }
            self.first_defined.insert(key, origin.clone());
        }
        self.result.resources.push(Loaded {
            origin,
            api_version: decoded.api_version,
            object: decoded.object,
            unknown_fields: decoded.unknown_fields,
        });
    }

    fn decode_error(&self, origin: Origin, value: &Value, error: &ObjectError) -> LoadError {
        let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
        let kind = text(&value["kind"]);
        let name = text(&value["metadata"]["name"]);
        // A Namespace is cluster-scoped: naming one "default/shop" would mislead.
        let cluster_scoped =
            kind.as_deref() == Some(LoadedKind::Namespace.as_str()) && value["apiVersion"] == "v1";
        let namespace = name.as_ref().filter(|_| !cluster_scoped).map(|_| {
            text(&value["metadata"]["namespace"])
                .unwrap_or_else(|| self.options.default_namespace.clone())
        });
        LoadError {
            origin,
            kind,
            namespace,
            name,
            reason: error.reason(value),
            first_defined: None,
        }
    }
}

/// The resources a document holds, each with its place in the document: the document itself,
/// the items of a `List`, the elements of a JSON array, or nothing for an empty document.
fn items(value: &Value, format: Format) -> Result<Vec<(Option<FieldPath>, &Value)>, String> {
    fn list(values: &[Value], at: FieldPath) -> Vec<(Option<FieldPath>, &Value)> {
        let items = values.iter().enumerate();
        items.map(|(i, v)| (Some(at.index(i)), v)).collect()
    }
    let kind = value["kind"].as_str().unwrap_or_default();
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(values) if format == Format::Json => Ok(list(values, FieldPath::root())),
        // `kubectl get -o yaml` prints `List`; typed lists (`VirtualServiceList`) come from the API.
        Value::Object(_) if kind.ends_with("List") => match &value["items"] {
            Value::Array(values) => Ok(list(values, FieldPath::root().field("items"))),
            Value::Null if kind != "List" => Ok(vec![(None, value)]),
            _ => Err("items is missing or not a sequence".to_string()),
        },
        _ => Ok(vec![(None, value)]),
    }
}

/// Drops a leading byte order mark and turns every line ending into `\n`, so that lines are
/// counted alike by the splitter, both parsers and the editor that shows them.
fn normalize(text: &str) -> Cow<'_, str> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Reads a file as UTF-8 text, no larger than `max_bytes`; or says why it cannot, and on which
/// line (0 for the file as a whole).
fn read(path: &Path, max_bytes: u64) -> Result<String, (usize, String)> {
    let cannot_read = |error: std::io::Error| (0, format!("cannot read: {error}"));
    let file = fs::File::open(path).map_err(cannot_read)?;
    let mut bytes = Vec::new();
    // Read one byte past the limit to tell a file of exactly the limit from a larger one, even
    // when the file grows while it is read.
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot_read)?;
    if bytes.len() as u64 > max_bytes {
        return Err((0, format!("the file is larger than {max_bytes} bytes")));
    }
    String::from_utf8(bytes).map_err(|error| {
        let valid = error.utf8_error().valid_up_to();
        let before = error.as_bytes().get(..valid).unwrap_or_default();
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        (
            line,
            format!("not UTF-8 text: invalid byte at offset {valid}"),
        )
    })
}

#[cfg(test)]
mod kubernetes_tests;
#[cfg(test)]
mod mutation_tests;
#[cfg(test)]
mod tests;
