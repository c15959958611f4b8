//! An outbound cluster's `HttpProtocolOptions` and `upstream_connection_options`, from the
//! port's protocol and a DestinationRule's `connectionPool`, as Istio's `applyConnectionPool`,
//! `applyH2Upgrade` and `applyTCPKeepalive` build them.

use std::collections::HashMap;

use envoy_types::pb::envoy::{
    config::{
        cluster::v3::UpstreamConnectionOptions,
        core::v3::{
            Http1ProtocolOptions, Http2ProtocolOptions,
            HttpProtocolOptions as CommonHttpProtocolOptions, TcpKeepalive,
        },
    },
    extensions::upstreams::http::v3::{
        HttpProtocolOptions,
        http_protocol_options::{
            ExplicitHttpConfig, UpstreamProtocolOptions, UseDownstreamHttpConfig,
            explicit_http_config::ProtocolConfig,
        },
    },
};
use envoy_types::pb::google::protobuf::{Any, UInt32Value};
use envoy_types::util::pack_any;
use mesh_common::api::{self, ConnectionPoolSettings};

use super::{super::duration, h2_upgrade};
use crate::{mesh_config::MeshConfig, model::Protocol};

pub(super) const HTTP_PROTOCOL_OPTIONS: &str =
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// The largest `TCP_KEEPIDLE`/`TCP_KEEPINTVL` (seconds) and `TCP_KEEPCNT` Linux accepts.
const MAX_KEEPALIVE_SECONDS: u64 = 32_767;
const MAX_KEEPALIVE_PROBES: u32 = 127;

/// The `typed_extension_protocol_options` of a cluster for a port of `protocol`:
///
/// - the upstream protocol: explicit HTTP/2 for HTTP/2 and gRPC ports and for ports the
///   `h2UpgradePolicy` (or the mesh's) upgrades; else the client's protocol with
///   `useClientProtocol`; else none (HTTP/1.1). As in Istio, an upgrade wins over
///   `useClientProtocol`, which wins over the port's HTTP/2.
/// - `common_http_protocol_options`: `http.idleTimeout` (else `tcp.idleTimeout`) →
///   `idle_timeout`, `http.maxRequestsPerConnection` (above 0) → `max_requests_per_connection`,
///   `tcp.maxConnectionDuration` → `max_connection_duration`; with them, a port that names no
///   protocol gets an explicit HTTP/1.1, as Envoy requires one.
///
/// - `http.maxConcurrentStreams` (above 0) → the explicit HTTP/2 options'
///   `max_concurrent_streams`. As in Istio, only a cluster that speaks HTTP/2 alone gets it:
///   an HTTP/1.1 cluster opens no streams, and `useClientProtocol` replaces the options.
pub(super) fn typed_options(
    protocol: Protocol,
    pool: Option<&ConnectionPoolSettings>,
    mesh: &MeshConfig,
) -> HashMap<String, Any> {
    let http = pool.and_then(|p| p.http.as_ref());
    let tcp = pool.and_then(|p| p.tcp.as_ref());
    let use_client = http.and_then(|h| h.use_client_protocol) == Some(true);
    let upstream_protocol_options = if explicit_h2(protocol, pool, mesh) {
        let max_concurrent_streams = http
            .and_then(|h| h.max_concurrent_streams)
            .and_then(|m| u32::try_from(m).ok())
            .filter(|&m| m > 0)
            .map(|value| UInt32Value { value });
        Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(Http2ProtocolOptions {
                    max_concurrent_streams,
                    ..Http2ProtocolOptions::default()
                })),
            },
        ))
    } else if use_client {
        Some(UpstreamProtocolOptions::UseDownstreamProtocolConfig(
            UseDownstreamHttpConfig {
                http_protocol_options: Some(Http1ProtocolOptions::default()),
                http2_protocol_options: Some(Http2ProtocolOptions::default()),
                http3_protocol_options: None,
            },
        ))
    } else {
        None
    };
    let time = |d: Option<&api::Duration>| {
        d.and_then(|d| d.parse().ok())
            .map(|d: std::time::Duration| duration(d))
    };
    let common = CommonHttpProtocolOptions {
        idle_timeout: time(
            http.and_then(|h| h.idle_timeout.as_ref())
                .or_else(|| tcp.and_then(|t| t.idle_timeout.as_ref())),
        ),
        max_requests_per_connection: http
            .and_then(|h| h.max_requests_per_connection)
            .and_then(|m| u32::try_from(m).ok())
            .filter(|&m| m > 0)
            .map(|value| UInt32Value { value }),
        max_connection_duration: time(tcp.and_then(|t| t.max_connection_duration.as_ref())),
        ..CommonHttpProtocolOptions::default()
    };
    let common = Some(common).filter(|c| *c != CommonHttpProtocolOptions::default());
    if upstream_protocol_options.is_none() && common.is_none() {
        return HashMap::new();
    }
    // Envoy requires a protocol in the options: without one of the above, HTTP/1.1, which is
    // what the cluster speaks without options.
    let upstream_protocol_options = upstream_protocol_options.or_else(|| {
        Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::HttpProtocolOptions(
                    Http1ProtocolOptions::default(),
                )),
            },
        ))
    });
    let options = HttpProtocolOptions {
        common_http_protocol_options: common,
        upstream_protocol_options,
        ..HttpProtocolOptions::default()
    };
    HashMap::from([(HTTP_PROTOCOL_OPTIONS.to_string(), pack_any(options))])
}

/// Whether the cluster speaks HTTP/2 alone (explicit HTTP/2 options), Istio's
/// `isHttp2Cluster`: HTTP/2 and gRPC ports unless `useClientProtocol`, and upgraded ports.
pub(super) fn explicit_h2(
    protocol: Protocol,
    pool: Option<&ConnectionPoolSettings>,
    mesh: &MeshConfig,
) -> bool {
    let h2_port = matches!(protocol, Protocol::Http2 | Protocol::Grpc);
    // Istio upgrades HTTP/2 ports too, which matters once `useClientProtocol` replaced their
    // explicit HTTP/2: `h2_upgrade` says no for them, as they are HTTP/2 already.
    let upgrade =
        h2_upgrade(protocol, pool, mesh) || (h2_port && h2_upgrade(Protocol::Http, pool, mesh));
    let use_client = pool
        .and_then(|p| p.http.as_ref())
        .and_then(|h| h.use_client_protocol)
        == Some(true);
    upgrade || (h2_port && !use_client)
}

/// `tcp.tcpKeepalive` → `upstream_connection_options.tcp_keepalive`: `SO_KEEPALIVE` with the
/// system's values for what is unset (and for `probes: 0`). Envoy takes whole seconds: `time`
/// and `interval` are rounded up to one, and capped at what Linux accepts, as are `probes`.
pub(super) fn upstream_connection_options(
    pool: Option<&ConnectionPoolSettings>,
) -> Option<UpstreamConnectionOptions> {
    let keepalive = pool?.tcp.as_ref()?.tcp_keepalive.as_ref()?;
    let seconds = |d: &Option<api::Duration>| {
        let d: std::time::Duration = d.as_ref()?.parse().ok()?;
        let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        let value = whole.clamp(1, MAX_KEEPALIVE_SECONDS) as u32;
        Some(UInt32Value { value })
    };
    Some(UpstreamConnectionOptions {
        tcp_keepalive: Some(TcpKeepalive {
            keepalive_probes: keepalive.probes.filter(|&p| p > 0).map(|p| UInt32Value {
                value: p.min(MAX_KEEPALIVE_PROBES),
            }),
            keepalive_time: seconds(&keepalive.time),
            keepalive_interval: seconds(&keepalive.interval),
        }),
        ..UpstreamConnectionOptions::default()
    })
}

#[cfg(test)]
mod tests;
