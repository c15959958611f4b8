//! The terminal network filter of a chain: `http_connection_manager` or `tcp_proxy`.
//!
//! Refused in `HttpConnectionManager`: `codec_type` `HTTP3`, `scoped_routes`, an `rds` whose
//! `config_source` is not ADS, any HTTP filter but one `envoy.filters.http.fault` (see
//! [`Fault`]), then one `envoy.filters.http.cors` (an empty `Cors`; the policies are per route,
//! see [`CorsPolicy`](crate::route::CorsPolicy)) — each optional, in that order, as Istio
//! installs them — and a final `envoy.filters.http.router` (whose `strict_check_headers`,
//! `respect_expected_rq_timeout` and `upstream_http_filters` are refused too), and every option that changes requests, headers or connections: `add_user_agent`,
//! `common_http_protocol_options`, `http_protocol_options`, `http2_protocol_options`,
//! `http3_protocol_options`, `http1_safe_max_connection_duration`, `server_name`,
//! `server_header_transformation`, `scheme_header_transformation`, `max_request_headers_kb`,
//! `stream_flush_timeout`, `request_timeout`, `request_headers_timeout`,
//! `xff_num_trusted_hops`, `original_ip_detection_extensions`,
//! `early_header_mutation_extensions`, `internal_address_config`, `skip_xff_append`, `via`,
//! `preserve_external_request_id`, `always_set_request_id_in_response`,
//! `forward_client_cert_details`, `set_current_client_cert_details`,
//! `forward_client_cert_matcher`, `proxy_100_continue`,
//! `represent_ipv4_remote_address_as_ipv4_mapped_ipv6`, `upgrade_configs`, `normalize_path`,
//! `merge_slashes`, `path_with_escaped_slashes_action`, `request_id_extension`,
//! `local_reply_config`, `strip_matching_host_port`, `stream_error_on_invalid_http_message`,
//! `path_normalization_options`, `strip_trailing_host_dot`, `proxy_status_config`,
//! `typed_header_validation_config`, `append_x_forwarded_port`, `append_local_overload`,
//! `add_proxy_protocol_connection_state`, `forward_proto_config`, `strip_port_mode`.
//! `codec_type` is honoured: `HTTP1` closes a connection that opens with the HTTP/2 preface,
//! `HTTP2` speaks HTTP/2 with prior knowledge only, `AUTO` serves what the first bytes say.
//!
//! Ignored in `HttpConnectionManager`: `tracing`, `access_log_flush_interval`,
//! `flush_access_log_on_new_request`, `access_log_options`, `drain_timeout`,
//! `drain_timeout_jitter`, `delayed_close_timeout`; in the router: `dynamic_stats`,
//! `start_child_span`, `upstream_log`, `upstream_log_options`, `suppress_envoy_headers`,
//! `suppress_grpc_request_failure_code_stats`.
//!
//! Refused in `TcpProxy`: `on_demand`, `metadata_match`, `downstream_idle_timeout`,
//! `upstream_idle_timeout`, `max_connect_attempts`, `backoff_options`, `hash_policy`,
//! `tunneling_config`, `proxy_protocol_tlvs`, `upstream_connect_mode`, `max_early_data_bytes`,
//! and a weighted cluster's `metadata_match`. `max_downstream_connection_duration` (with its
//! jitter) is honoured: the connection is closed, flag `DT`, when it elapses. Ignored:
//! `access_log_flush_interval`, `flush_access_log_on_connected`, `access_log_options`,
//! `proxy_protocol_tlv_merge_policy`, `check_drain_close`, and
//! `max_downstream_connection_duration_jitter_percentage` without a maximum duration (nothing
//! to jitter).

use std::{sync::Arc, time::Duration};

use envoy_types::pb::envoy::{
    config::{
        core::v3::config_source::ConfigSourceSpecifier,
        listener::v3::{Filter, filter},
    },
    extensions::filters::{
        http::{cors::v3::Cors, fault::v3::HttpFault, router::v3::Router},
        network::{
            http_connection_manager::v3::{
                HttpConnectionManager as PbHcm, HttpFilter,
                http_connection_manager::{CodecType, RouteSpecifier},
                http_filter,
            },
            tcp_proxy::v3::{
                TcpProxy as PbTcpProxy, tcp_proxy::ClusterSpecifier, tcp_proxy::WeightedCluster,
            },
        },
    },
};
use mesh_common::path::FieldPath;
use prost::Name;

use super::common::{duration, join, timeout, unpack};
use crate::{
    config::{Codec, HttpConnectionManager, MaxDuration, NetworkFilter, RouteSource, TcpProxy},
    config_error::{FieldError, reject_if},
    route::{CORS_FILTER, ClusterTarget, Clusters, FAULT_FILTER, Fault, HeaderEdits, RouteTable},
};

/// The name (and, with `type.googleapis.com/`, the type) of the HTTP filter that ends a chain.
const ROUTER: &str = "envoy.filters.http.router";

/// Envoy's default `TcpProxy.idle_timeout`.
const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

/// Compiles a chain's terminal filter found at `path`.
pub(super) fn network_filter(f: &Filter, path: &FieldPath) -> Result<NetworkFilter, FieldError> {
    let any = match &f.config_type {
        Some(filter::ConfigType::TypedConfig(any)) => any,
        Some(filter::ConfigType::ConfigDiscovery(_)) => {
            return Err(FieldError::unsupported(path.field("config_discovery")));
        }
        None => return Err(FieldError::new(path.field("typed_config"), "is required")),
    };
    let config_path = path.field("typed_config");
    if any.type_url == PbHcm::type_url() {
        let hcm = unpack::<PbHcm>(any, &config_path)?;
        Ok(NetworkFilter::Http(Arc::new(http_connection_manager(
            &hcm,
            &config_path,
        )?)))
    } else if any.type_url == PbTcpProxy::type_url() {
        let proxy = unpack::<PbTcpProxy>(any, &config_path)?;
        Ok(NetworkFilter::Tcp(Arc::new(tcp_proxy(
            &proxy,
            &config_path,
        )?)))
    } else {
        Err(FieldError::new(
            config_path,
            format!(
                "network filter {:?} is not supported by mesh-proxy",
                any.type_url
            ),
        ))
    }
}

#[allow(deprecated)]
fn http_connection_manager(
    h: &PbHcm,
    path: &FieldPath,
) -> Result<HttpConnectionManager, FieldError> {
    let codec = match CodecType::try_from(h.codec_type) {
        Ok(CodecType::Auto) => Codec::Auto,
        Ok(CodecType::Http1) => Codec::Http1,
        Ok(CodecType::Http2) => Codec::Http2,
        _ => return Err(FieldError::unsupported(path.field("codec_type"))),
    };
    reject_if(h.add_user_agent.is_some(), path, "add_user_agent")?;
    reject_if(
        h.common_http_protocol_options.is_some(),
        path,
        "common_http_protocol_options",
    )?;
    reject_if(
        h.http_protocol_options.is_some(),
        path,
        "http_protocol_options",
    )?;
    reject_if(
        h.http2_protocol_options.is_some(),
        path,
        "http2_protocol_options",
    )?;
    reject_if(
        h.http3_protocol_options.is_some(),
        path,
        "http3_protocol_options",
    )?;
    reject_if(
        h.http1_safe_max_connection_duration,
        path,
        "http1_safe_max_connection_duration",
    )?;
    reject_if(!h.server_name.is_empty(), path, "server_name")?;
    reject_if(
        h.server_header_transformation != 0,
        path,
        "server_header_transformation",
    )?;
    reject_if(
        h.scheme_header_transformation.is_some(),
        path,
        "scheme_header_transformation",
    )?;
    reject_if(
        h.max_request_headers_kb.is_some(),
        path,
        "max_request_headers_kb",
    )?;
    reject_if(
        h.stream_flush_timeout.is_some(),
        path,
        "stream_flush_timeout",
    )?;
    reject_if(h.request_timeout.is_some(), path, "request_timeout")?;
    reject_if(
        h.request_headers_timeout.is_some(),
        path,
        "request_headers_timeout",
    )?;
    reject_if(h.xff_num_trusted_hops != 0, path, "xff_num_trusted_hops")?;
    reject_if(
        !h.original_ip_detection_extensions.is_empty(),
        path,
        "original_ip_detection_extensions",
    )?;
    reject_if(
        !h.early_header_mutation_extensions.is_empty(),
        path,
        "early_header_mutation_extensions",
    )?;
    reject_if(
        h.internal_address_config.is_some(),
        path,
        "internal_address_config",
    )?;
    reject_if(h.skip_xff_append, path, "skip_xff_append")?;
    reject_if(!h.via.is_empty(), path, "via")?;
    reject_if(
        h.preserve_external_request_id,
        path,
        "preserve_external_request_id",
    )?;
    reject_if(
        h.always_set_request_id_in_response,
        path,
        "always_set_request_id_in_response",
    )?;
    reject_if(
        h.forward_client_cert_details != 0,
        path,
        "forward_client_cert_details",
    )?;
    reject_if(
        h.set_current_client_cert_details.is_some(),
        path,
        "set_current_client_cert_details",
    )?;
    reject_if(
        h.forward_client_cert_matcher.is_some(),
        path,
        "forward_client_cert_matcher",
    )?;
    reject_if(h.proxy_100_continue, path, "proxy_100_continue")?;
    reject_if(
        h.represent_ipv4_remote_address_as_ipv4_mapped_ipv6,
        path,
        "represent_ipv4_remote_address_as_ipv4_mapped_ipv6",
    )?;
    reject_if(!h.upgrade_configs.is_empty(), path, "upgrade_configs")?;
    reject_if(
        h.normalize_path.as_ref().is_some_and(|v| v.value),
        path,
        "normalize_path",
    )?;
    reject_if(h.merge_slashes, path, "merge_slashes")?;
    reject_if(
        h.path_with_escaped_slashes_action != 0,
        path,
        "path_with_escaped_slashes_action",
    )?;
    reject_if(
        h.request_id_extension.is_some(),
        path,
        "request_id_extension",
    )?;
    reject_if(h.local_reply_config.is_some(), path, "local_reply_config")?;
    reject_if(h.strip_matching_host_port, path, "strip_matching_host_port")?;
    reject_if(
        h.stream_error_on_invalid_http_message.is_some(),
        path,
        "stream_error_on_invalid_http_message",
    )?;
    reject_if(
        h.path_normalization_options.is_some(),
        path,
        "path_normalization_options",
    )?;
    reject_if(h.strip_trailing_host_dot, path, "strip_trailing_host_dot")?;
    reject_if(h.proxy_status_config.is_some(), path, "proxy_status_config")?;
    reject_if(
        h.typed_header_validation_config.is_some(),
        path,
        "typed_header_validation_config",
    )?;
    reject_if(h.append_x_forwarded_port, path, "append_x_forwarded_port")?;
    reject_if(h.append_local_overload, path, "append_local_overload")?;
    reject_if(
        h.add_proxy_protocol_connection_state.is_some(),
        path,
        "add_proxy_protocol_connection_state",
    )?;
    reject_if(
        h.forward_proto_config.is_some(),
        path,
        "forward_proto_config",
    )?;
    reject_if(h.strip_port_mode.is_some(), path, "strip_port_mode")?;
    let (fault, cors) = http_filters(&h.http_filters, &path.field("http_filters"))?;
    let routes = match &h.route_specifier {
        Some(RouteSpecifier::RouteConfig(config)) => {
            RouteSource::Inline(Arc::new(RouteTable::compile(config).map_err(|e| {
                FieldError::new(join(&path.field("route_config"), &e.path), e.reason)
            })?))
        }
        Some(RouteSpecifier::Rds(rds)) => {
            let rds_path = path.field("rds");
            match rds
                .config_source
                .as_ref()
                .and_then(|c| c.config_source_specifier.as_ref())
            {
                Some(ConfigSourceSpecifier::Ads(_)) => {}
                _ => {
                    return Err(FieldError::new(
                        rds_path.field("config_source"),
                        "only `ads: {}` is supported by mesh-proxy",
                    ));
                }
            }
            if rds.route_config_name.is_empty() {
                return Err(FieldError::new(
                    rds_path.field("route_config_name"),
                    "must not be empty",
                ));
            }
            RouteSource::Rds(rds.route_config_name.clone())
        }
        Some(RouteSpecifier::ScopedRoutes(_)) => {
            return Err(FieldError::unsupported(path.field("scoped_routes")));
        }
        None => {
            return Err(FieldError::new(
                path.field("route_config"),
                "one of route_config and rds is required",
            ));
        }
    };
    Ok(HttpConnectionManager {
        stat_prefix: h.stat_prefix.clone(),
        codec,
        routes,
        access_log: !h.access_log.is_empty(),
        generate_request_id: h.generate_request_id.as_ref().is_none_or(|v| v.value),
        use_remote_address: h.use_remote_address.as_ref().is_some_and(|v| v.value),
        stream_idle_timeout: timeout(
            h.stream_idle_timeout.as_ref(),
            Some(crate::http::DEFAULT_STREAM_IDLE_TIMEOUT),
            &path.field("stream_idle_timeout"),
        )?,
        fault,
        cors,
    })
}

/// Checks the filter chain (the fault filter, the CORS filter, then the router) and returns
/// the fault filter's own config when the chain holds it, and whether it holds the CORS filter.
fn http_filters(
    filters: &[HttpFilter],
    path: &FieldPath,
) -> Result<(Option<Arc<Fault>>, bool), FieldError> {
    let Some((last, others)) = filters.split_last() else {
        return Err(FieldError::new(
            path.clone(),
            format!("must end with {ROUTER}"),
        ));
    };
    let mut fault = None;
    let mut cors = false;
    for (i, other) in others.iter().enumerate() {
        let path = path.index(i);
        // The handler runs the fault filter before the CORS filter: no other order is served.
        let next = match other.name.as_str() {
            FAULT_FILTER if fault.is_none() && !cors => FAULT_FILTER,
            CORS_FILTER if !cors => CORS_FILTER,
            name => {
                return Err(FieldError::new(
                    path,
                    format!("HTTP filter {name:?} is not supported by mesh-proxy"),
                ));
            }
        };
        reject_if(other.is_optional, &path, "is_optional")?;
        reject_if(other.disabled, &path, "disabled")?;
        let typed = match &other.config_type {
            Some(http_filter::ConfigType::TypedConfig(any)) => Some(any),
            Some(http_filter::ConfigType::ConfigDiscovery(_)) => {
                return Err(FieldError::unsupported(path.field("config_discovery")));
            }
            None => None,
        };
        let typed_path = path.field("typed_config");
        if next == CORS_FILTER {
            // `Cors` has no fields; the policies come with the routes.
            if let Some(any) = typed {
                unpack::<Cors>(any, &typed_path)?;
            }
            cors = true;
        } else {
            let config = match typed {
                Some(any) => Fault::compile(&unpack::<HttpFault>(any, &typed_path)?, &typed_path)?,
                None => Fault::default(),
            };
            fault = Some(Arc::new(config));
        }
    }
    route_filter(last, &path.index(others.len()))?;
    Ok((fault, cors))
}

fn route_filter(last: &HttpFilter, path: &FieldPath) -> Result<(), FieldError> {
    let path = path.clone();
    match &last.config_type {
        Some(http_filter::ConfigType::TypedConfig(any)) => {
            let router = unpack::<Router>(any, &path.field("typed_config")).map_err(|_| {
                FieldError::new(
                    path.field("typed_config"),
                    format!(
                        "the last HTTP filter must be {ROUTER}, got {:?}",
                        any.type_url
                    ),
                )
            })?;
            let config = path.field("typed_config");
            reject_if(
                !router.strict_check_headers.is_empty(),
                &config,
                "strict_check_headers",
            )?;
            reject_if(
                router.respect_expected_rq_timeout,
                &config,
                "respect_expected_rq_timeout",
            )?;
            reject_if(
                !router.upstream_http_filters.is_empty(),
                &config,
                "upstream_http_filters",
            )
        }
        Some(http_filter::ConfigType::ConfigDiscovery(_)) => {
            Err(FieldError::unsupported(path.field("config_discovery")))
        }
        None if last.name == ROUTER => Ok(()),
        None => Err(FieldError::new(
            path.field("name"),
            format!("the last HTTP filter must be {ROUTER}, got {:?}", last.name),
        )),
    }
}

#[allow(deprecated)]
fn tcp_proxy(t: &PbTcpProxy, path: &FieldPath) -> Result<TcpProxy, FieldError> {
    reject_if(t.on_demand.is_some(), path, "on_demand")?;
    reject_if(t.metadata_match.is_some(), path, "metadata_match")?;
    reject_if(
        t.downstream_idle_timeout.is_some(),
        path,
        "downstream_idle_timeout",
    )?;
    reject_if(
        t.upstream_idle_timeout.is_some(),
        path,
        "upstream_idle_timeout",
    )?;
    reject_if(
        t.max_connect_attempts.is_some(),
        path,
        "max_connect_attempts",
    )?;
    reject_if(t.backoff_options.is_some(), path, "backoff_options")?;
    reject_if(!t.hash_policy.is_empty(), path, "hash_policy")?;
    reject_if(t.tunneling_config.is_some(), path, "tunneling_config")?;
    reject_if(
        !t.proxy_protocol_tlvs.is_empty(),
        path,
        "proxy_protocol_tlvs",
    )?;
    reject_if(t.upstream_connect_mode != 0, path, "upstream_connect_mode")?;
    reject_if(
        t.max_early_data_bytes.is_some(),
        path,
        "max_early_data_bytes",
    )?;
    let clusters = match &t.cluster_specifier {
        Some(ClusterSpecifier::Cluster(name)) => Clusters::single(name, &path.field("cluster"))?,
        Some(ClusterSpecifier::WeightedClusters(w)) => {
            weighted(w, &path.field("weighted_clusters"))?
        }
        None => {
            return Err(FieldError::new(
                path.field("cluster"),
                "one of cluster and weighted_clusters is required",
            ));
        }
    };
    Ok(TcpProxy {
        stat_prefix: t.stat_prefix.clone(),
        clusters,
        idle_timeout: timeout(
            t.idle_timeout.as_ref(),
            Some(DEFAULT_TCP_IDLE_TIMEOUT),
            &path.field("idle_timeout"),
        )?,
        access_log: !t.access_log.is_empty(),
        max_duration: max_duration(t, path)?,
    })
}

/// `max_downstream_connection_duration` (at least 1 ms, as Envoy requires) and its jitter
/// (0–100 %, ignored without a maximum, as in Envoy).
fn max_duration(t: &PbTcpProxy, path: &FieldPath) -> Result<Option<MaxDuration>, FieldError> {
    let Some(d) = &t.max_downstream_connection_duration else {
        return Ok(None);
    };
    let duration_path = path.field("max_downstream_connection_duration");
    let duration = duration(d, &duration_path)?;
    if duration < Duration::from_millis(1) {
        return Err(FieldError::new(duration_path, "must be at least 1ms"));
    }
    let jitter_percent = match &t.max_downstream_connection_duration_jitter_percentage {
        None => 0.0,
        Some(p) if (0.0..=100.0).contains(&p.value) => p.value,
        Some(p) => {
            return Err(FieldError::new(
                path.field("max_downstream_connection_duration_jitter_percentage")
                    .field("value"),
                format!("{} is not a percentage between 0 and 100", p.value),
            ));
        }
    };
    Ok(Some(MaxDuration {
        duration,
        jitter_percent,
    }))
}

/// A TCP proxy's `weighted_clusters`: its own message, simpler than a route's.
fn weighted(w: &WeightedCluster, path: &FieldPath) -> Result<Clusters, FieldError> {
    if w.clusters.is_empty() {
        return Err(FieldError::new(path.field("clusters"), "must not be empty"));
    }
    let mut targets = Vec::with_capacity(w.clusters.len());
    let mut cumulative = Vec::with_capacity(w.clusters.len());
    let mut total = 0u64;
    for (i, c) in w.clusters.iter().enumerate() {
        let path = path.field("clusters").index(i);
        reject_if(c.metadata_match.is_some(), &path, "metadata_match")?;
        if c.name.is_empty() {
            return Err(FieldError::new(path.field("name"), "must not be empty"));
        }
        total += u64::from(c.weight);
        cumulative.push(total);
        targets.push(ClusterTarget {
            name: c.name.clone(),
            weight: c.weight,
            request_headers: HeaderEdits::default(),
            response_headers: HeaderEdits::default(),
            host_rewrite: None,
        });
    }
    if total == 0 {
        return Err(FieldError::new(
            path.field("clusters"),
            "the weights must add up to more than zero",
        ));
    }
    Ok(Clusters::Weighted {
        targets,
        cumulative,
    })
}
