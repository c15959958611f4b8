//! Envoy's `Address` messages as Rust addresses, refusing what the proxy cannot connect to or
//! bind (pipes, internal addresses, UDP, named ports) with the field path of the culprit.

use std::net::{IpAddr, SocketAddr};

use envoy_types::pb::envoy::config::core::v3::{
    Address, address,
    socket_address::{PortSpecifier, Protocol},
};
use mesh_common::path::FieldPath;

use crate::config_error::{FieldError, reject_if};

/// A TCP `socket_address` with an IP and a numeric port, found at `path`.
pub(crate) fn socket_address(
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
pub(crate) fn host_and_port(
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
