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

/// The TLS context of a `transport_socket` found at `path`: `None` for plaintext (no socket,
/// or `raw_buffer`), the unpacked `T` (Upstream- or `DownstreamTlsContext`) with its path
/// otherwise; any other socket is refused.
pub(super) fn tls_context<T: prost::Message + prost::Name + Default>(
    socket: Option<&envoy_types::pb::envoy::config::core::v3::TransportSocket>,
    path: &FieldPath,
) -> Result<Option<(T, FieldPath)>, FieldError> {
    use envoy_types::pb::envoy::{
        config::core::v3::transport_socket::ConfigType,
        extensions::transport_sockets::raw_buffer::v3::RawBuffer,
    };
    let Some(socket) = socket else {
        return Ok(None);
    };
    let any = match &socket.config_type {
        Some(ConfigType::TypedConfig(any)) => any,
        None => return Err(FieldError::new(path.field("typed_config"), "is required")),
    };
    let path = path.field("typed_config");
    if any.type_url == <RawBuffer as prost::Name>::type_url() {
        return Ok(None);
    }
    if any.type_url != T::type_url() {
        return Err(FieldError::new(
            path,
            format!(
                "transport socket {:?} is not supported by mesh-proxy",
                any.type_url
            ),
        ));
    }
    Ok(Some((unpack::<T>(any, &path)?, path)))
}

/// The error of a certificate's private key that rustls refused, at the key's field under
/// `common_path` (a `CommonTlsContext`).
pub(super) fn private_key_error(common_path: &FieldPath, e: &rustls::Error) -> FieldError {
    let path = common_path
        .field("tls_certificates")
        .index(0)
        .field("private_key");
    match e {
        rustls::Error::InconsistentKeys(_) => {
            FieldError::new(path, "does not match the certificate of certificate_chain")
        }
        e => FieldError::new(path, format!("cannot be used: {e}")),
    }
}
