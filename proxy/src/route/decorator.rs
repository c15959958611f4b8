//! A route's `decorator`: the name of its requests' spans, and whether the proxy passes it on
//! in `x-envoy-decorator-operation` (see [`trace_export::decorator`] for how it is applied).
//!
//! [`trace_export::decorator`]: crate::trace_export::decorator

use envoy_types::pb::envoy::config::route::v3::Decorator as PbDecorator;
use mesh_common::path::FieldPath;

use crate::config_error::FieldError;

/// A compiled `Route.decorator`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decorator {
    /// `operation`: the span name of the route's requests; never empty.
    pub operation: String,
    /// `propagate` (default true): whether the operation is sent on to the other party.
    pub propagate: bool,
}

// === impl Decorator ===

impl Decorator {
    /// Compiles a `decorator` found at `path`.
    pub fn compile(d: &PbDecorator, path: &FieldPath) -> Result<Self, FieldError> {
        // Envoy's validation: `operation` has at least one character.
        if d.operation.is_empty() {
            return Err(FieldError::new(
                path.field("operation"),
                "must not be empty",
            ));
        }
        Ok(Self {
            operation: d.operation.clone(),
            propagate: d.propagate.as_ref().is_none_or(|p| p.value),
        })
    }
}

#[cfg(test)]
mod tests;
