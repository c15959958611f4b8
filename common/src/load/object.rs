//! What a document is read into: an Istio resource, or one of the Kubernetes objects a mesh is
//! built from (Namespaces, Services, EndpointSlices and Pods).
//!
//! The Kubernetes kinds let a directory of files describe a whole mesh with no cluster: the
//! control plane's file store feeds them to its model exactly as its Kubernetes watches would.
//! This module knows their types and keys only; what they mean is the control plane's business.

use std::fmt;

use k8s_openapi::{
    api::{
        core::v1::{Namespace, Pod, Secret, Service},
        discovery::v1::EndpointSlice,
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::parse::strip_json_position;
use crate::{
    api::{self, DecodeError, Kind, Resource, UnknownField},
    path::FieldPath,
};

/// The Kubernetes kinds read, each with the `apiVersion` it is read in (the only one the API
/// server still serves) and its decoder.
const KUBERNETES_KINDS: &[(LoadedKind, &str, DecodeFn)] = &[
    (LoadedKind::Namespace, "v1", |v, u| {
        typed(v, u).map(LoadedObject::Namespace)
    }),
    (LoadedKind::Service, "v1", |v, u| {
        typed(v, u).map(LoadedObject::Service)
    }),
    (LoadedKind::Pod, "v1", |v, u| {
        typed(v, u).map(LoadedObject::Pod)
    }),
    (LoadedKind::EndpointSlice, "discovery.k8s.io/v1", |v, u| {
        typed(v, u).map(LoadedObject::EndpointSlice)
    }),
    (LoadedKind::Secret, "v1", |v, u| {
        typed(v, u).map(LoadedObject::Secret)
    }),
];

/// Deserializes a document of one Kubernetes kind, collecting the paths of unknown fields.
type DecodeFn = fn(&Value, &mut Vec<FieldPath>) -> Result<LoadedObject, ObjectError>;

/// An object read from a document.
// Objects are read once per load and moved into a store; boxing every variant would cost an
// allocation each for no measurable gain.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum LoadedObject {
    /// An Istio resource.
    Istio(Resource),
    Namespace(Namespace),
    Service(Service),
    Pod(Pod),
    EndpointSlice(EndpointSlice),
    Secret(Secret),
}

/// The kind of a [`LoadedObject`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LoadedKind {
    Istio(Kind),
    Namespace,
    Service,
    Pod,
    EndpointSlice,
    Secret,
}

/// Names a loaded object: kind, namespace (empty for a Namespace, which is cluster-scoped) and
/// name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoadedKey {
    pub kind: LoadedKind,
    pub namespace: String,
    pub name: String,
}

/// A document read as an object, before the loader places it.
#[derive(Debug)]
pub(super) struct DecodedObject {
    pub api_version: String,
    pub object: LoadedObject,
    pub unknown_fields: Vec<UnknownField>,
}

/// Why a document is not an object the loader reads.
#[derive(Debug)]
pub(super) enum ObjectError {
    /// Not a Kubernetes kind read here: Istio's decoder's reason.
    Istio(DecodeError),
    /// A Kubernetes kind under an `apiVersion` that does not serve it.
    UnsupportedVersion {
        kind: LoadedKind,
        api_version: String,
        served: &'static str,
    },
    /// A field of a Kubernetes object does not have the type Kubernetes gives it.
    Invalid {
        path: FieldPath,
        message: String,
    },
    MissingName,
}

// === impl LoadedObject ===

impl LoadedObject {
    pub fn kind(&self) -> LoadedKind {
        match self {
            LoadedObject::Istio(resource) => LoadedKind::Istio(resource.kind()),
            LoadedObject::Namespace(_) => LoadedKind::Namespace,
            LoadedObject::Service(_) => LoadedKind::Service,
            LoadedObject::Pod(_) => LoadedKind::Pod,
            LoadedObject::EndpointSlice(_) => LoadedKind::EndpointSlice,
            LoadedObject::Secret(_) => LoadedKind::Secret,
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            LoadedObject::Istio(resource) => resource.metadata(),
            LoadedObject::Namespace(o) => &o.metadata,
            LoadedObject::Service(o) => &o.metadata,
            LoadedObject::Pod(o) => &o.metadata,
            LoadedObject::EndpointSlice(o) => &o.metadata,
            LoadedObject::Secret(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The namespace; empty for a Namespace, and for an object whose document left it to its
    /// reader's default until the loader set it.
    pub fn namespace(&self) -> &str {
        self.metadata().namespace.as_deref().unwrap_or_default()
    }

    pub fn key(&self) -> LoadedKey {
        LoadedKey {
            kind: self.kind(),
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
        }
    }

    /// Sets the namespace where the document left it out, as `kubectl apply -n` does. A
    /// Namespace is cluster-scoped: its own namespace is cleared, as the API server does.
    pub(super) fn default_namespace(&mut self, namespace: &str) {
        let meta = match self {
            LoadedObject::Istio(resource) => return resource.default_namespace(namespace),
            LoadedObject::Namespace(o) => {
                o.metadata.namespace = None;
                return;
            }
            LoadedObject::Service(o) => &mut o.metadata,
            LoadedObject::Pod(o) => &mut o.metadata,
            LoadedObject::EndpointSlice(o) => &mut o.metadata,
            LoadedObject::Secret(o) => &mut o.metadata,
        };
        if meta.namespace.as_deref().unwrap_or_default().is_empty() {
            meta.namespace = Some(namespace.to_string());
        }
    }
}

// === impl LoadedKind ===

impl LoadedKind {
    /// The kind's name as written in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadedKind::Istio(kind) => kind.as_str(),
            LoadedKind::Namespace => "Namespace",
            LoadedKind::Service => "Service",
            LoadedKind::Pod => "Pod",
            LoadedKind::EndpointSlice => "EndpointSlice",
            LoadedKind::Secret => "Secret",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        self != LoadedKind::Namespace
    }
}

impl fmt::Display for LoadedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// === impl LoadedKey ===

impl fmt::Display for LoadedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

// === impl ObjectError ===

impl ObjectError {
    /// What is wrong, for a [`super::LoadError`]'s reason.
    pub(super) fn reason(&self, value: &Value) -> String {
        match self {
            ObjectError::Istio(DecodeError::NotAnObject) => {
                format!("the document is {}, not a mapping", describe(value))
            }
            ObjectError::Istio(DecodeError::UnknownKind { api_version, kind }) => format!(
                "unknown kind {kind:?} of apiVersion {api_version:?}; mesh.rs reads {}",
                known_kinds()
            ),
            ObjectError::Istio(DecodeError::Invalid { path, message, .. })
            | ObjectError::Invalid { path, message } => {
                if path.is_root() {
                    message.clone()
                } else {
                    format!("{path}: {message}")
                }
            }
            ObjectError::Istio(DecodeError::MissingName { .. }) | ObjectError::MissingName => {
                "metadata.name is missing".to_string()
            }
            ObjectError::Istio(other) => other.to_string(),
            ObjectError::UnsupportedVersion {
                kind,
                api_version,
                served,
            } => format!("{kind} is not served as {api_version:?}; use {served}"),
        }
    }
}

/// Reads one document as an object: the one place that knows which kinds the loader reads.
pub(super) fn decode(value: &Value) -> Result<DecodedObject, ObjectError> {
    let type_field = |field| value.get(field).and_then(Value::as_str);
    if let (Some(api_version), Some(kind)) = (type_field("apiVersion"), type_field("kind")) {
        let found = KUBERNETES_KINDS
            .iter()
            .find(|(k, served, _)| k.as_str() == kind && group(api_version) == group(served));
        if let Some(&(kind, served, decode)) = found {
            if api_version != served {
                return Err(ObjectError::UnsupportedVersion {
                    kind,
                    api_version: api_version.to_string(),
                    served,
                });
            }
            return decode_kubernetes(decode, api_version, value);
        }
    }
    let decoded = api::decode(value).map_err(ObjectError::Istio)?;
    Ok(DecodedObject {
        api_version: decoded.api_version,
        object: LoadedObject::Istio(decoded.resource),
        unknown_fields: decoded.unknown_fields,
    })
}

fn decode_kubernetes(
    decode: DecodeFn,
    api_version: &str,
    value: &Value,
) -> Result<DecodedObject, ObjectError> {
    let mut unknown = Vec::new();
    let object = decode(value, &mut unknown)?;
    if object.name().is_empty() {
        return Err(ObjectError::MissingName);
    }
    let unknown_fields = unknown
        .into_iter()
        .map(|path| UnknownField {
            value: path.lookup(value).cloned().unwrap_or_default(),
            path,
        })
        .collect();
    Ok(DecodedObject {
        api_version: api_version.to_string(),
        object,
        unknown_fields,
    })
}

/// Deserializes a Kubernetes object, naming the field that fails and collecting the fields its
/// type does not have, as Istio's decoder does.
fn typed<T: DeserializeOwned>(
    value: &Value,
    unknown: &mut Vec<FieldPath>,
) -> Result<T, ObjectError> {
    let mut on_ignored = |path: serde_ignored::Path<'_>| unknown.push(FieldPath::from(&path));
    let tracked = serde_ignored::Deserializer::new(value, &mut on_ignored);
    serde_path_to_error::deserialize(tracked).map_err(|error| ObjectError::Invalid {
        path: FieldPath::from(error.path()),
        message: strip_json_position(&error.inner().to_string()),
    })
}

/// The API group of an `apiVersion`: empty for Kubernetes' core group (`v1`).
fn group(api_version: &str) -> &str {
    api_version.split_once('/').map_or("", |(group, _)| group)
}

/// Every kind read, for the message of an unknown one.
fn known_kinds() -> String {
    let istio: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    let kubernetes: Vec<_> = KUBERNETES_KINDS
        .iter()
        .map(|(kind, api_version, _)| format!("{kind} ({api_version})"))
        .collect();
    format!(
        "Istio's {} and Kubernetes' {}",
        istio.join(", "),
        kubernetes.join(", ")
    )
}

/// "a sequence", "a string": what a document that is not a mapping is.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}
