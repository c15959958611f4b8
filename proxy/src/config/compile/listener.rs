//! `Listener` → [`ListenerConfig`].
//!
//! Refused in `Listener`: `additional_addresses`, `fcds_config`, `filter_chain_matcher`,
//! `deprecated_v1`, `transparent`, `socket_options`, `udp_listener_config`, `api_listener`,
//! `enable_mptcp`, `listener_specifier` (internal listeners), and listener filters other than
//! `original_dst`, `tls_inspector` and `http_inspector` (or with `filter_disabled` or ECDS).
//! In a filter chain: `use_proxy_proto` and network filters other than `sni_cluster`s followed
//! by one terminal `http_connection_manager` or `tcp_proxy` (see `network.rs`); a chain's
//! `transport_socket` terminates TLS (see `listener/tls.rs` for what of `DownstreamTlsContext`
//! is served). In `filter_chain_match`: `address_suffix`, `suffix_len`,
//! `direct_source_prefix_ranges`, `source_type`, `source_prefix_ranges` and `source_ports`.
//!
//! Ignored, because they only tune sockets, stats, draining or logging and do not change where
//! traffic goes: `stat_prefix`, `stats_matcher`, `metadata`, `per_connection_buffer_limit_bytes`,
//! `per_connection_buffer_high_watermark_timeout`, `drain_type`, `freebind`,
//! `tcp_fast_open_queue_length`, `connection_balance_config`,
//! `reuse_port`, `enable_reuse_port`, `access_log` (for connections no chain takes),
//! `tcp_backlog_size`, `max_connections_to_accept_per_socket_event`,
//! `ignore_global_conn_limit`, `bypass_overload_manager`, `tcp_keepalive` and a chain's
//! `metadata`. `continue_on_listener_filters_timeout` is treated as
//! true: a connection whose protocol is not detected in time is proxied as opaque TCP.
//! `traffic_direction` is kept: the admin's `/drain_listeners?inboundonly` drains the `INBOUND`
//! listeners only.

use std::{net::IpAddr, time::Duration};

use envoy_types::pb::envoy::config::{
    core::v3::{CidrRange as PbCidrRange, TrafficDirection as TrafficDirectionPb},
    listener::v3::{
        FilterChain as PbFilterChain, FilterChainMatch as PbFilterChainMatch, Listener,
        ListenerFilter, listener_filter,
    },
};
use envoy_types::pb::envoy::extensions::filters::listener::{
    http_inspector::v3::HttpInspector, original_dst::v3::OriginalDst,
    tls_inspector::v3::TlsInspector,
};
use mesh_common::path::FieldPath;
use prost::Name;

use super::{
    common::{duration, socket_address},
    network::network_filters,
};
use crate::{
    config::{CidrRange, FilterChain, FilterChainMatch, ListenerConfig, TrafficDirection},
    config_error::{ConfigError, FieldError, reject_if},
};

pub(super) mod tls;

const KIND: &str = "Listener";

/// Envoy's default `listener_filters_timeout`.
const DEFAULT_DETECTION_TIMEOUT: Duration = Duration::from_secs(15);

/// What a listener filter does for us.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ListenerFilterKind {
    OriginalDst,
    Inspector,
}

/// Compiles a `Listener`, or says precisely why it is refused.
pub fn compile_listener(listener: &Listener) -> Result<ListenerConfig, ConfigError> {
    compile_fields(listener).map_err(|e| e.in_resource(KIND, &listener.name))
}

#[allow(deprecated)]
fn compile_fields(l: &Listener) -> Result<ListenerConfig, FieldError> {
    let root = FieldPath::root();
    if l.name.is_empty() {
        return Err(FieldError::new(root.field("name"), "must not be empty"));
    }
    reject_if(
        !l.additional_addresses.is_empty(),
        &root,
        "additional_addresses",
    )?;
    reject_if(l.fcds_config.is_some(), &root, "fcds_config")?;
    reject_if(
        l.filter_chain_matcher.is_some(),
        &root,
        "filter_chain_matcher",
    )?;
    reject_if(l.deprecated_v1.is_some(), &root, "deprecated_v1")?;
    reject_if(
        l.transparent.as_ref().is_some_and(|v| v.value),
        &root,
        "transparent",
    )?;
    reject_if(!l.socket_options.is_empty(), &root, "socket_options")?;
    reject_if(
        l.udp_listener_config.is_some(),
        &root,
        "udp_listener_config",
    )?;
    reject_if(l.api_listener.is_some(), &root, "api_listener")?;
    reject_if(l.enable_mptcp, &root, "enable_mptcp")?;
    reject_if(l.listener_specifier.is_some(), &root, "internal_listener")?;
    let address = socket_address(l.address.as_ref(), &root.field("address"))?;
    let (mut inspect_protocols, mut original_dst_filter) = (false, false);
    for (i, filter) in l.listener_filters.iter().enumerate() {
        let path = root.field("listener_filters").index(i);
        match listener_filter_kind(filter, &path)? {
            ListenerFilterKind::Inspector => inspect_protocols = true,
            ListenerFilterKind::OriginalDst => original_dst_filter = true,
        }
    }
    let detection_timeout = match &l.listener_filters_timeout {
        None => DEFAULT_DETECTION_TIMEOUT,
        Some(d) => duration(d, &root.field("listener_filters_timeout"))?,
    };
    let filter_chains = l
        .filter_chains
        .iter()
        .enumerate()
        .map(|(i, chain)| filter_chain(chain, &root.field("filter_chains").index(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let default_filter_chain = l
        .default_filter_chain
        .as_ref()
        .map(|chain| filter_chain(chain, &root.field("default_filter_chain")))
        .transpose()?;
    if filter_chains.is_empty() && default_filter_chain.is_none() {
        return Err(FieldError::new(
            root.field("filter_chains"),
            "a listener needs a filter chain or a default_filter_chain",
        ));
    }
    let traffic_direction = match TrafficDirectionPb::try_from(l.traffic_direction) {
        Ok(TrafficDirectionPb::Unspecified) => TrafficDirection::Unspecified,
        Ok(TrafficDirectionPb::Inbound) => TrafficDirection::Inbound,
        Ok(TrafficDirectionPb::Outbound) => TrafficDirection::Outbound,
        Err(_) => {
            return Err(FieldError::new(
                root.field("traffic_direction"),
                format!("{} is not a traffic direction", l.traffic_direction),
            ));
        }
    };
    Ok(ListenerConfig {
        name: l.name.clone(),
        address,
        use_original_dst: l.use_original_dst.as_ref().is_some_and(|v| v.value),
        original_dst_filter,
        bind_to_port: l.bind_to_port.as_ref().is_none_or(|v| v.value),
        filter_chains,
        default_filter_chain,
        inspect_protocols,
        detection_timeout,
        traffic_direction,
    })
}

fn listener_filter_kind(
    filter: &ListenerFilter,
    path: &FieldPath,
) -> Result<ListenerFilterKind, FieldError> {
    reject_if(filter.filter_disabled.is_some(), path, "filter_disabled")?;
    let by_url = |url: &str| {
        if url == OriginalDst::type_url() {
            Some(ListenerFilterKind::OriginalDst)
        } else if url == TlsInspector::type_url() || url == HttpInspector::type_url() {
            Some(ListenerFilterKind::Inspector)
        } else {
            None
        }
    };
    match &filter.config_type {
        Some(listener_filter::ConfigType::TypedConfig(any)) => {
            by_url(&any.type_url).ok_or_else(|| {
                FieldError::new(
                    path.field("typed_config"),
                    format!(
                        "listener filter {:?} is not supported by mesh-proxy",
                        any.type_url
                    ),
                )
            })
        }
        Some(listener_filter::ConfigType::ConfigDiscovery(_)) => {
            Err(FieldError::unsupported(path.field("config_discovery")))
        }
        None => match filter.name.as_str() {
            "envoy.filters.listener.original_dst" => Ok(ListenerFilterKind::OriginalDst),
            "envoy.filters.listener.tls_inspector" | "envoy.filters.listener.http_inspector" => {
                Ok(ListenerFilterKind::Inspector)
            }
            name => Err(FieldError::new(
                path.field("name"),
                format!("listener filter {name:?} is not supported by mesh-proxy"),
            )),
        },
    }
}

#[allow(deprecated)]
fn filter_chain(chain: &PbFilterChain, path: &FieldPath) -> Result<FilterChain, FieldError> {
    reject_if(chain.use_proxy_proto.is_some(), path, "use_proxy_proto")?;
    let matcher = chain
        .filter_chain_match
        .as_ref()
        .map(|m| filter_chain_match(m, &path.field("filter_chain_match")))
        .transpose()?
        .unwrap_or_default();
    let filter = network_filters(&chain.filters, &path.field("filters"))?;
    let tls = tls::transport_socket(chain, path)?;
    Ok(FilterChain {
        name: chain.name.clone(),
        matcher,
        filter,
        tls,
    })
}

fn filter_chain_match(
    m: &PbFilterChainMatch,
    path: &FieldPath,
) -> Result<FilterChainMatch, FieldError> {
    reject_if(!m.address_suffix.is_empty(), path, "address_suffix")?;
    reject_if(m.suffix_len.is_some(), path, "suffix_len")?;
    reject_if(
        !m.direct_source_prefix_ranges.is_empty(),
        path,
        "direct_source_prefix_ranges",
    )?;
    reject_if(m.source_type != 0, path, "source_type")?;
    reject_if(
        !m.source_prefix_ranges.is_empty(),
        path,
        "source_prefix_ranges",
    )?;
    reject_if(!m.source_ports.is_empty(), path, "source_ports")?;
    let destination_port = m
        .destination_port
        .as_ref()
        .map(|p| {
            u16::try_from(p.value)
                .ok()
                .filter(|&port| port != 0)
                .ok_or_else(|| {
                    FieldError::new(
                        path.field("destination_port"),
                        format!("{} is not a port", p.value),
                    )
                })
        })
        .transpose()?;
    let prefix_ranges = m
        .prefix_ranges
        .iter()
        .enumerate()
        .map(|(i, r)| cidr_range(r, &path.field("prefix_ranges").index(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let transport_protocol = Some(m.transport_protocol.clone()).filter(|t| !t.is_empty());
    if let Some(t) = &transport_protocol
        && t != "raw_buffer"
        && t != "tls"
    {
        return Err(FieldError::new(
            path.field("transport_protocol"),
            format!("{t:?} is neither \"raw_buffer\" nor \"tls\""),
        ));
    }
    Ok(FilterChainMatch {
        destination_port,
        prefix_ranges,
        server_names: m.server_names.clone(),
        transport_protocol,
        application_protocols: m.application_protocols.clone(),
    })
}

fn cidr_range(r: &PbCidrRange, path: &FieldPath) -> Result<CidrRange, FieldError> {
    let address: IpAddr = r.address_prefix.parse().map_err(|_| {
        FieldError::new(
            path.field("address_prefix"),
            format!("{:?} is not an IP address", r.address_prefix),
        )
    })?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let len = r.prefix_len.as_ref().map_or(0, |l| l.value);
    let prefix_len = u8::try_from(len)
        .ok()
        .filter(|&l| l <= max)
        .ok_or_else(|| {
            FieldError::new(
                path.field("prefix_len"),
                format!("{len} is longer than the address ({max} bits)"),
            )
        })?;
    Ok(CidrRange {
        address,
        prefix_len,
    })
}
