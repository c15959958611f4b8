//! Typed configs (`google.protobuf.Any`) decoded into the message their field requires, with
//! the field path of a wrong type or malformed bytes.

use envoy_types::pb::google::protobuf::Any;
use mesh_common::path::FieldPath;
use prost::{Message, Name};

use crate::config_error::FieldError;

/// Decodes a `typed_config` that must hold an `M`.
pub(crate) fn unpack<M: Message + Default + Name>(
    any: &Any,
    path: &FieldPath,
) -> Result<M, FieldError> {
    let expected = M::type_url();
    if any.type_url != expected {
        return Err(FieldError::new(
            path.clone(),
            format!("expected {expected}, got {:?}", any.type_url),
        ));
    }
    M::decode(any.value.as_slice())
        .map_err(|e| FieldError::new(path.clone(), format!("malformed {}: {e}", M::full_name())))
}
