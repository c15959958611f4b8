//! Which listener handles a captured connection, and the explicit-proxy view of the same
//! question.
//!
//! A `use_original_dst` listener hands a connection to the listener whose address is the
//! connection's original destination. As in Istio's configuration, those are the listeners
//! that do not bind (`bind_to_port: false`): `10.0.0.5_9080` for one service address, or
//! `0.0.0.0_9080` for every address on a port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use mesh_common::well_known::proxy_ports;

use super::chain::{ChainInput, select_chain};
use crate::config::{HttpConnectionManager, ListenerConfig, NetworkFilter, Snapshot};

/// The non-binding listener for `destination`: one with exactly that address first, then one
/// on the unspecified address of the same port (the destination's address family first).
/// Ties go to the smallest name, so the choice does not depend on map order.
pub fn handoff_listener(
    snapshot: &Snapshot,
    destination: SocketAddr,
) -> Option<&Arc<ListenerConfig>> {
    let destination = SocketAddr::new(destination.ip().to_canonical(), destination.port());
    let rank = |listener: &ListenerConfig| -> Option<u8> {
        let address = listener.address;
        if listener.bind_to_port || address.port() != destination.port() {
            return None;
        }
        if address.ip().to_canonical() == destination.ip() {
            Some(0)
        } else if address.ip().is_unspecified() {
            Some(if address.is_ipv4() == destination.is_ipv4() {
                1
            } else {
                2
            })
        } else {
            None
        }
    };
    snapshot
        .listeners
        .values()
        .filter_map(|listener| rank(listener).map(|rank| (rank, listener)))
        .min_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.name.cmp(&y.name)))
        .map(|(_, listener)| listener)
}

/// The listener whose chains serve a tunnelled or captured connection that no non-binding
/// listener claims: the `use_original_dst` listener on the outbound capture port, else the
/// first `use_original_dst` listener by name.
pub fn capture_listener(snapshot: &Snapshot) -> Option<&Arc<ListenerConfig>> {
    snapshot
        .listeners
        .values()
        .filter(|listener| listener.use_original_dst)
        .min_by_key(|listener| {
            (
                listener.address.port() != proxy_ports::OUTBOUND_CAPTURE,
                listener.name.as_str(),
            )
        })
}

/// Explicit proxy mode: the HTTP connection manager of the filter chain that a captured
/// connection to `port` would get (the non-binding listener for that port, as Istio's
/// `0.0.0.0_<port>` listeners), or None: its routes and its HTTP filters serve the request, as
/// they would a captured one.
///
/// The chain is the one a plaintext HTTP/1.1 connection to that listener's address selects.
pub fn explicit_http_manager(snapshot: &Snapshot, port: u16) -> Option<Arc<HttpConnectionManager>> {
    let wildcard = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
    let listener = handoff_listener(snapshot, wildcard).or_else(|| {
        snapshot
            .listeners
            .values()
            .filter(|listener| !listener.bind_to_port && listener.address.port() == port)
            .min_by(|a, b| a.name.cmp(&b.name))
    })?;
    let input = ChainInput::detected(listener.address, &crate::detect::Protocol::Http1);
    match &select_chain(listener, &input)?.filter {
        NetworkFilter::Http(hcm) => Some(Arc::clone(hcm)),
        NetworkFilter::Tcp(_) => None,
    }
}

#[cfg(test)]
mod tests;
