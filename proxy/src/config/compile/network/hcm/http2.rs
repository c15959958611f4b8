//! The connection manager's `http2_protocol_options`: only `max_concurrent_streams`, which
//! mesh-proxy's HTTP/2 server advertises as `SETTINGS_MAX_CONCURRENT_STREAMS` and enforces.
//! Any other field set is refused, since the server would not honour it.

use envoy_types::pb::{
    envoy::config::core::v3::Http2ProtocolOptions, google::protobuf::UInt32Value,
};
use mesh_common::path::FieldPath;

use crate::config_error::FieldError;

/// Envoy's largest `max_concurrent_streams` (and its default).
const MAX_STREAMS: u32 = 2_147_483_647;

/// The `SETTINGS_MAX_CONCURRENT_STREAMS` to advertise; `None` when unset.
pub(super) fn max_concurrent_streams(
    o: &Http2ProtocolOptions,
    path: &FieldPath,
) -> Result<Option<u32>, FieldError> {
    let only_streams = Http2ProtocolOptions {
        max_concurrent_streams: o.max_concurrent_streams,
        ..Http2ProtocolOptions::default()
    };
    if *o != only_streams {
        return Err(FieldError::new(
            path.clone(),
            "only max_concurrent_streams is supported by mesh-proxy",
        ));
    }
    match o.max_concurrent_streams {
        None => Ok(None),
        Some(UInt32Value { value }) if (1..=MAX_STREAMS).contains(&value) => Ok(Some(value)),
        Some(UInt32Value { value }) => Err(FieldError::new(
            path.field("max_concurrent_streams"),
            format!("{value} is outside 1..={MAX_STREAMS}"),
        )),
    }
}

#[cfg(test)]
mod tests;
