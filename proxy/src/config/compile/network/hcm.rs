//! `envoy.filters.network.http_connection_manager`: the codec, the route source and the HTTP
//! filters (see [`http_filters`](super::http_filters)).
//!
//! Refused: `codec_type` `HTTP3`, `scoped_routes`, an `rds` whose `config_source` is not ADS,
//! and every option that changes requests, headers or connections: `add_user_agent`,
//! `common_http_protocol_options`, `http_protocol_options`, `http2_protocol_options` other than
//! its `max_concurrent_streams` (see [`http2`](self::http2)), `http3_protocol_options`,
//! `http1_safe_max_connection_duration`, `server_name`, `server_header_transformation`,
//! `scheme_header_transformation`, `max_request_headers_kb`, `stream_flush_timeout`,
//! `request_timeout`, `request_headers_timeout`, `xff_num_trusted_hops`,
//! `original_ip_detection_extensions`,
//! `early_header_mutation_extensions`, `internal_address_config`, `skip_xff_append`, `via`,
//! `preserve_external_request_id`, `always_set_request_id_in_response`,
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
//! `tracing` is honoured with Envoy's OpenTelemetry tracer (see [`tracing`](self::tracing));
//! `forward_client_cert_details` and `set_current_client_cert_details` with every mode and
//! detail (see [`client_cert`](self::client_cert)).
//!
//! Ignored: `access_log_flush_interval`, `flush_access_log_on_new_request`,
//! `access_log_options`, `drain_timeout`, `drain_timeout_jitter`, `delayed_close_timeout`.

mod client_cert;
mod http2;
mod tracing;

use std::sync::Arc;

use envoy_types::pb::envoy::{
    config::core::v3::config_source::ConfigSourceSpecifier,
    extensions::filters::network::http_connection_manager::v3::{
        HttpConnectionManager as PbHcm,
        http_connection_manager::{CodecType, RouteSpecifier},
    },
};
use mesh_common::path::FieldPath;

use super::{
    super::common::{join, timeout},
    http_filters::http_filters,
};
use crate::{
    config::{Codec, HttpConnectionManager, RouteSource},
    config_error::{FieldError, reject_if},
    route::RouteTable,
};

#[allow(deprecated)]
pub(super) fn http_connection_manager(
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
    let http2_max_concurrent_streams = match &h.http2_protocol_options {
        Some(o) => http2::max_concurrent_streams(o, &path.field("http2_protocol_options"))?,
        None => None,
    };
    let tracing = match &h.tracing {
        Some(t) => self::tracing::tracing(t, &path.field("tracing"))?,
        None => None,
    };
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
        tracing,
        http2_max_concurrent_streams,
        client_cert: client_cert::client_cert(h, path)?,
    })
}
