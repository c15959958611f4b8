//! Node metadata for the tests of this module.

use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use mesh_common::well_known::node_metadata;

/// A string value.
pub(crate) fn text(value: &str) -> Value {
    Value {
        kind: Some(Kind::StringValue(value.to_owned())),
    }
}

/// Node metadata with string `fields` and, unless empty, a `LABELS` struct of `labels`.
pub(crate) fn metadata(fields: &[(&str, &str)], labels: &[(&str, &str)]) -> Struct {
    let mut metadata = Struct {
        fields: fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), text(v)))
            .collect(),
    };
    if !labels.is_empty() {
        let labels = Struct {
            fields: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), text(v)))
                .collect(),
        };
        metadata.fields.insert(
            node_metadata::LABELS.to_owned(),
            Value {
                kind: Some(Kind::StructValue(labels)),
            },
        );
    }
    metadata
}
