//! Small conversions shared by the listener and cluster compilers.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use envoy_types::pb::{
    envoy::config::core::v3::{
        Address, address,
        socket_address::{PortSpecifier, Protocol},
    },
    google::protobuf::{Any, Duration as PbDuration},
};
use mesh_common::path::FieldPath;
use prost::{Message, Name};

use crate::config_error::{FieldError, reject_if};

/// A protobuf duration as a `Duration`; negative ones are refused.
pub(super) fn duration(d: &PbDuration, path: &FieldPath) -> Result<Duration, FieldError> {
    match (u64::try_from(d.seconds), u32::try_from(d.nanos)) {
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

/// Decodes a `typed_config` that must hold an `M`.
pub(super) fn unpack<M: Message + Default + Name>(
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

/// A TCP `socket_address` with an IP and a numeric port, found at `path`.
pub(super) fn socket_address(
    address: Option<&Address>,
    path: &FieldPath,
) -> Result<SocketAddr, FieldError> {
    let (host, port) = host_and_port(address, path)?;
    let ip: IpAddr = host.parse().map_err(|_| {
        FieldError::new(
            path.field("socket_address").field("address"),
            format!("{host:?} is not an IP address"),
        )
    })?;
    Ok(SocketAddr::new(ip, port))
}

/// A TCP `socket_address` whose address may be a hostname (for DNS clusters).
pub(super) fn host_and_port(
    address: Option<&Address>,
    path: &FieldPath,
) -> Result<(String, u16), FieldError> {
    let socket = match address.and_then(|a| a.address.as_ref()) {
        Some(address::Address::SocketAddress(socket)) => socket,
        Some(address::Address::Pipe(_)) => return Err(FieldError::unsupported(path.field("pipe"))),
        Some(address::Address::EnvoyInternalAddress(_)) => {
            return Err(FieldError::unsupported(
                path.field("envoy_internal_address"),
            ));
        }
        None => return Err(FieldError::new(path.clone(), "is required")),
    };
    let path = path.field("socket_address");
    reject_if(socket.protocol != Protocol::Tcp as i32, &path, "protocol")?;
    reject_if(!socket.resolver_name.is_empty(), &path, "resolver_name")?;
    reject_if(
        !socket.network_namespace_filepath.is_empty(),
        &path,
        "network_namespace_filepath",
    )?;
    reject_if(socket.ipv4_compat, &path, "ipv4_compat")?;
    if socket.address.is_empty() {
        return Err(FieldError::new(path.field("address"), "is required"));
    }
    let port = match &socket.port_specifier {
        Some(PortSpecifier::PortValue(port)) => u16::try_from(*port).map_err(|_| {
            FieldError::new(path.field("port_value"), format!("{port} is not a port"))
        })?,
        Some(PortSpecifier::NamedPort(_)) => {
            return Err(FieldError::unsupported(path.field("named_port")));
        }
        None => return Err(FieldError::new(path.field("port_value"), "is required")),
    };
    Ok((socket.address.clone(), port))
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
