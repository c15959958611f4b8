//! `exportTo`: which namespaces see a service or a VirtualService, DestinationRule or
//! ServiceEntry.
//! <https://istio.io/latest/docs/reference/config/networking/virtual-service/#VirtualService-export_to>

use std::collections::BTreeSet;

use serde::Serialize;

/// The annotation that sets a Kubernetes Service's `exportTo`, comma-separated.
pub const EXPORT_TO_ANNOTATION: &str = "networking.istio.io/exportTo";

/// The namespaces something is visible from, with `.` already resolved to the namespace it
/// lives in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ExportTo {
    /// `*`: every namespace.
    All,
    /// Only these namespaces. Empty for `~`: hidden from every namespace.
    Namespaces(BTreeSet<String>),
}

// === impl ExportTo ===

impl ExportTo {
    /// Reads `exportTo` values of something in `own_namespace`; an empty list takes the mesh's
    /// `default` for its kind, which is itself resolved against `own_namespace`.
    pub fn resolve(values: &[String], default: &[String], own_namespace: &str) -> ExportTo {
        let values = if values.is_empty() { default } else { values };
        if values.is_empty() || values.iter().any(|v| v == "*") {
            return ExportTo::All;
        }
        let namespaces = values
            .iter()
            .filter(|v| v.as_str() != "~")
            .map(|v| match v.as_str() {
                "." => own_namespace.to_string(),
                named => named.to_string(),
            })
            .collect();
        ExportTo::Namespaces(namespaces)
    }

    /// Reads the `networking.istio.io/exportTo` annotation of a Kubernetes Service
    /// (`".,istio-system"`); no annotation takes the mesh's default.
    pub fn from_annotation(
        annotation: Option<&str>,
        default: &[String],
        own_namespace: &str,
    ) -> ExportTo {
        let values: Vec<String> = annotation
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect();
        ExportTo::resolve(&values, default, own_namespace)
    }

    /// Whether proxies in `namespace` see it.
    pub fn is_visible_from(&self, namespace: &str) -> bool {
        match self {
            ExportTo::All => true,
            ExportTo::Namespaces(namespaces) => namespaces.contains(namespace),
        }
    }
}
