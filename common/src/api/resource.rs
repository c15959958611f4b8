//! Every kind mesh.rs reads, as one enum, and the decoding of a JSON/YAML document into it.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::{
    AuthorizationPolicy, DestinationRule, Gateway, PeerAuthentication, RequestAuthentication,
    ServiceEntry, Sidecar, Telemetry, VirtualService, WorkloadEntry,
};
use crate::path::FieldPath;

const NETWORKING: &str = "networking.istio.io";
const SECURITY: &str = "security.istio.io";
/// Istio serves the networking kinds under three versions with one schema.
const NETWORKING_VERSIONS: &[&str] = &["v1", "v1beta1", "v1alpha3"];
const SECURITY_VERSIONS: &[&str] = &["v1", "v1beta1"];
const TELEMETRY: &str = "telemetry.istio.io";
const TELEMETRY_VERSIONS: &[&str] = &["v1", "v1alpha1"];

/// Defines [`Kind`] and [`Resource`] from one list, so that adding a kind is one line.
macro_rules! kinds {
    ($($kind:ident => $group:ident, $versions:ident;)+) => {
        /// A kind of resource mesh.rs reads.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum Kind {
            $($kind,)+
        }

        /// A resource of any kind mesh.rs reads.
        // Resources are built once per change and moved rarely; boxing every variant would
        // cost an allocation each for no measurable gain.
        #[allow(clippy::large_enum_variant)]
        #[derive(Clone, Debug, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum Resource {
            $($kind($kind),)+
        }

        impl Kind {
            /// Every kind, in a stable order.
            pub const ALL: &'static [Kind] = &[$(Kind::$kind,)+];

            /// The kind's name as written in `kind:`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Kind::$kind => stringify!($kind),)+
                }
            }

            /// The API group, e.g. `networking.istio.io`.
            pub fn group(self) -> &'static str {
                match self {
                    $(Kind::$kind => $group,)+
                }
            }

            /// The API versions under which this kind is read and served; the first is preferred.
            pub fn versions(self) -> &'static [&'static str] {
                match self {
                    $(Kind::$kind => $versions,)+
                }
            }
        }

        impl Resource {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Resource::$kind(_) => Kind::$kind,)+
                }
            }

            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $(Resource::$kind(r) => &r.metadata,)+
                }
            }

            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                match self {
                    $(Resource::$kind(r) => &mut r.metadata,)+
                }
            }

            /// The resource as a JSON document, with `apiVersion` and `kind`.
            pub fn to_json(&self) -> serde_json::Value {
                // Serializing these types cannot fail: they hold only strings, numbers, lists and
                // string-keyed maps.
                serde_json::to_value(self).unwrap_or_default()
            }
        }

        $(
            impl From<$kind> for Resource {
                fn from(resource: $kind) -> Self {
                    Resource::$kind(resource)
                }
            }
        )+

        fn decode_kind(
            kind: Kind,
            document: &serde_json::Value,
            unknown: &mut Vec<FieldPath>,
        ) -> Result<Resource, serde_path_to_error::Error<serde_json::Error>> {
            let mut on_ignored = |path: serde_ignored::Path<'_>| unknown.push(FieldPath::from(&path));
            let tracked = serde_ignored::Deserializer::new(document, &mut on_ignored);
            Ok(match kind {
                $(Kind::$kind => Resource::$kind(serde_path_to_error::deserialize(tracked)?),)+
            })
        }
    };
}

kinds! {
    VirtualService => NETWORKING, NETWORKING_VERSIONS;
    DestinationRule => NETWORKING, NETWORKING_VERSIONS;
    Gateway => NETWORKING, NETWORKING_VERSIONS;
    ServiceEntry => NETWORKING, NETWORKING_VERSIONS;
    WorkloadEntry => NETWORKING, NETWORKING_VERSIONS;
    Sidecar => NETWORKING, NETWORKING_VERSIONS;
    AuthorizationPolicy => SECURITY, SECURITY_VERSIONS;
    PeerAuthentication => SECURITY, SECURITY_VERSIONS;
    RequestAuthentication => SECURITY, SECURITY_VERSIONS;
    Telemetry => TELEMETRY, TELEMETRY_VERSIONS;
}

/// Names a resource: kind, namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

/// A resource read from a document, with the fields it set that mesh.rs does not know.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    pub resource: Resource,
    /// The `apiVersion` the document was written in.
    pub api_version: String,
    /// Fields the document sets that no type here has, with their values: never dropped
    /// silently, so that validation and `meshctl analyze` can name them.
    pub unknown_fields: Vec<UnknownField>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnknownField {
    pub path: FieldPath,
    pub value: serde_json::Value,
}

/// Why a document is not a resource mesh.rs can read.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("the document is not a mapping")]
    NotAnObject,
    #[error("{field} is missing or not a string")]
    MissingTypeField { field: &'static str },
    #[error(
        "unknown kind {kind:?} of apiVersion {api_version:?}; mesh.rs reads {}",
        known_kinds()
    )]
    UnknownKind { api_version: String, kind: String },
    #[error("{kind} is not served as {api_version:?}; use {}", versions_of(*.kind))]
    UnsupportedVersion { kind: Kind, api_version: String },
    #[error("{kind}{}: {message}", at_path(path))]
    Invalid {
        kind: Kind,
        path: FieldPath,
        message: String,
    },
    #[error("{kind} has no metadata.name")]
    MissingName { kind: Kind },
}

// === impl Kind ===

impl Kind {
    /// Finds the kind of a document's `apiVersion` and `kind`.
    pub fn from_type_meta(api_version: &str, kind: &str) -> Result<Kind, DecodeError> {
        let found = Kind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == kind)
            .filter(|k| api_version.split('/').next() == Some(k.group()))
            .ok_or_else(|| DecodeError::UnknownKind {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
            })?;
        let version = api_version.split_once('/').map(|(_, v)| v);
        match version {
            Some(v) if found.versions().contains(&v) => Ok(found),
            _ => Err(DecodeError::UnsupportedVersion {
                kind: found,
                api_version: api_version.to_string(),
            }),
        }
    }

    /// `networking.istio.io/v1`: the preferred `apiVersion`.
    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.versions()[0])
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn at_path(path: &FieldPath) -> String {
    if path.is_root() {
        String::new()
    } else {
        format!(" {path}")
    }
}

fn known_kinds() -> String {
    let names: Vec<_> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    names.join(", ")
}

fn versions_of(kind: Kind) -> String {
    let versions: Vec<_> = kind
        .versions()
        .iter()
        .map(|v| format!("{}/{v}", kind.group()))
        .collect();
    versions.join(" or ")
}

// === impl Resource ===

impl Resource {
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }

    /// The namespace, or `""` when the document leaves it to its reader's default.
    pub fn namespace(&self) -> &str {
        self.metadata().namespace.as_deref().unwrap_or_default()
    }

    /// Sets the namespace where the document left it out, as `kubectl apply -n` does.
    pub fn default_namespace(&mut self, namespace: &str) {
        let meta = self.metadata_mut();
        if meta.namespace.as_deref().unwrap_or_default().is_empty() {
            meta.namespace = Some(namespace.to_string());
        }
    }

    pub fn key(&self) -> ResourceKey {
        ResourceKey {
            kind: self.kind(),
            namespace: self.namespace().to_string(),
            name: self.name().to_string(),
        }
    }
}

// === impl ResourceKey ===

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

/// Reads one document (already parsed from YAML or JSON) as a resource of any kind mesh.rs
/// knows, keeping the fields it does not know.
pub fn decode(document: &serde_json::Value) -> Result<Decoded, DecodeError> {
    let object = document.as_object().ok_or(DecodeError::NotAnObject)?;
    let type_field = |field: &'static str| {
        object
            .get(field)
            .and_then(|v| v.as_str())
            .ok_or(DecodeError::MissingTypeField { field })
    };
    let api_version = type_field("apiVersion")?;
    let kind = Kind::from_type_meta(api_version, type_field("kind")?)?;

    let mut unknown = Vec::new();
    let resource =
        decode_kind(kind, document, &mut unknown).map_err(|error| DecodeError::Invalid {
            kind,
            path: FieldPath::from(error.path()),
            message: strip_serde_position(&error.inner().to_string()),
        })?;
    if resource.name().is_empty() {
        return Err(DecodeError::MissingName { kind });
    }
    let unknown_fields = unknown
        .into_iter()
        // The type meta was read above; the typed structs leave it to their `Resource` impl.
        .filter(|path| !["apiVersion", "kind"].contains(&path.to_string().as_str()))
        .map(|path| UnknownField {
            value: path.lookup(document).cloned().unwrap_or_default(),
            path,
        })
        .collect();
    Ok(Decoded {
        resource,
        api_version: api_version.to_string(),
        unknown_fields,
    })
}

/// serde_json appends "at line 0 column 0" when it reads from a `Value`; the caller knows better
/// where the document is.
fn strip_serde_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests;
