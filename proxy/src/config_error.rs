//! Why an xDS resource was refused: the text of a NACK's `error_detail`.
//!
//! Compilers deep inside a resource only know the field they are looking at, so they return a
//! [`FieldError`]; the entry point that knows the resource's type and name turns it into a
//! [`ConfigError`].

use mesh_common::path::FieldPath;

/// A resource the proxy cannot honour, named precisely enough for an operator to fix it:
/// `RouteConfiguration "outbound|9080||reviews": virtual_hosts[0].routes[2].match.safe_regex:
/// regex "a(b" does not compile: …`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} \"{name}\": {path}: {reason}")]
pub struct ConfigError {
    /// The resource's message type, e.g. `RouteConfiguration`.
    pub kind: &'static str,
    /// The resource's name as the control plane sent it.
    pub name: String,
    /// The offending field inside the resource.
    pub path: FieldPath,
    /// What is wrong with it.
    pub reason: String,
}

/// A refused field, before the resource it belongs to is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The offending field, relative to the resource.
    pub path: FieldPath,
    /// What is wrong with it.
    pub reason: String,
}

// === impl FieldError ===

impl FieldError {
    /// A field whose value is wrong.
    pub fn new(path: FieldPath, reason: impl Into<String>) -> Self {
        Self {
            path,
            reason: reason.into(),
        }
    }

    /// A field the proxy does not implement: set, it would change what happens to traffic, so
    /// the resource is refused rather than half-applied.
    pub fn unsupported(path: FieldPath) -> Self {
        Self::new(path, "not supported by mesh-proxy")
    }

    /// Names the resource this field belongs to.
    pub fn in_resource(self, kind: &'static str, name: &str) -> ConfigError {
        ConfigError {
            kind,
            name: name.to_owned(),
            path: self.path,
            reason: self.reason,
        }
    }
}

/// Refuses `path` as unsupported when `set` is true.
pub(crate) fn reject_if(set: bool, path: &FieldPath, field: &str) -> Result<(), FieldError> {
    if set {
        return Err(FieldError::unsupported(path.field(field)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resource_field_and_reason() {
        let error = FieldError::unsupported(FieldPath::parse("virtual_hosts[0].routes[1].route"))
            .in_resource("RouteConfiguration", "outbound|9080||reviews");
        assert_eq!(
            error.to_string(),
            "RouteConfiguration \"outbound|9080||reviews\": virtual_hosts[0].routes[1].route: \
             not supported by mesh-proxy"
        );
    }

    #[test]
    fn reject_if_only_refuses_set_fields() {
        let root = FieldPath::parse("match");
        assert_eq!(reject_if(false, &root, "cookies"), Ok(()));
        assert_eq!(
            reject_if(true, &root, "cookies"),
            Err(FieldError::unsupported(FieldPath::parse("match.cookies")))
        );
    }
}
