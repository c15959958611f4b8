//! Small conversions shared by the listener and cluster compilers.

use std::time::Duration;

use envoy_types::pb::google::protobuf::Duration as PbDuration;
use mesh_common::path::FieldPath;

use crate::config_error::FieldError;
pub(super) use crate::{
    socket_address::{host_and_port, socket_address},
    typed_config::unpack,
};

/// The longest duration protobuf allows (10,000 years). Envoy refuses longer ones, and the data
/// path, which adds timeouts to the clock, would overflow it.
const MAX_DURATION_SECONDS: u64 = 315_576_000_000;

/// A protobuf duration as a `Duration`; negative and overlong ones are refused.
pub(super) fn duration(d: &PbDuration, path: &FieldPath) -> Result<Duration, FieldError> {
    match (u64::try_from(d.seconds), u32::try_from(d.nanos)) {
        (Ok(seconds), Ok(_)) if seconds > MAX_DURATION_SECONDS => Err(FieldError::new(
            path.clone(),
            format!(
                "{seconds}s is longer than protobuf's longest duration, {MAX_DURATION_SECONDS}s"
            ),
        )),
        (Ok(seconds), Ok(nanos)) if nanos < 1_000_000_000 => Ok(Duration::new(seconds, nanos)),
        _ => Err(FieldError::new(
            path.clone(),
            format!("{}s{}ns is not a valid duration", d.seconds, d.nanos),
        )),
    }
}

/// An optional duration with a default when unset, where zero means "disabled".
pub(super) fn timeout(
    d: Option<&PbDuration>,
    default: Option<Duration>,
    path: &FieldPath,
) -> Result<Option<Duration>, FieldError> {
    match d {
        None => Ok(default),
        Some(d) => Ok(Some(duration(d, path)?).filter(|d| !d.is_zero())),
    }
}

/// `relative` (a path inside a nested resource, such as an inline `RouteConfiguration`) under
/// `base`.
pub(super) fn join(base: &FieldPath, relative: &FieldPath) -> FieldPath {
    match (base.is_root(), relative.is_root()) {
        (_, true) => base.clone(),
        (true, false) => relative.clone(),
        (false, false) => FieldPath::parse(&format!("{base}.{relative}")),
    }
}
