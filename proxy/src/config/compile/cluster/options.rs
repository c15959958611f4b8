//! A cluster's protocol and connection options: `typed_extension_protocol_options` (and the
//! deprecated fields it replaced), `upstream_connection_options` and `common_lb_config`.
//!
//! Served: the `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` key only, and in it
//! `explicit_http_config` (HTTP/1.1 or HTTP/2), `use_downstream_protocol_config` and, of
//! `common_http_protocol_options`, `idle_timeout`, `max_requests_per_connection` and
//! `max_connection_duration`; `tcp_keepalive` of `upstream_connection_options`; and
//! `healthy_panic_threshold` of `common_lb_config`. Everything else in them is refused. Of the
//! HTTP/2 options (explicit, `use_downstream_protocol_config` or the legacy field),
//! `max_concurrent_streams` caps the streams per upstream connection; the contents of the
//! HTTP/1.1 and HTTP/2 options are otherwise not read.

use std::time::Duration;

use envoy_types::pb::envoy::{
    config::{
        cluster::v3::{
            Cluster, UpstreamConnectionOptions,
            cluster::{ClusterProtocolSelection, CommonLbConfig},
        },
        core::v3::{Http2ProtocolOptions, HttpProtocolOptions as CommonHttpProtocolOptions},
    },
    extensions::upstreams::http::v3::{
        HttpProtocolOptions,
        http_protocol_options::{UpstreamProtocolOptions, explicit_http_config::ProtocolConfig},
    },
};
use envoy_types::pb::google::protobuf::UInt32Value;
use mesh_common::path::FieldPath;

use super::super::common::{duration, timeout, unpack};
use crate::{
    config::{ConnectionOptions, TcpKeepalive, UpstreamProtocol},
    config_error::{FieldError, reject_if},
};

/// The only key of `typed_extension_protocol_options` served.
const HTTP_PROTOCOL_OPTIONS: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// Envoy's `healthy_panic_threshold` when unset.
const DEFAULT_PANIC_THRESHOLD: u32 = 50;

/// Envoy's `max_concurrent_streams` for HTTP/2 (and its largest): no cap of its own.
const UNCAPPED_STREAMS: u32 = 2_147_483_647;

/// Linux's largest `TCP_KEEPIDLE` and `TCP_KEEPINTVL`, in seconds, and `TCP_KEEPCNT`: larger
/// values would fail every connect.
const MAX_KEEPALIVE_SECONDS: u32 = 32_767;
const MAX_KEEPALIVE_PROBES: u32 = 127;

/// The protocol spoken upstream and how connections are kept.
pub(super) fn protocol_and_connection(
    c: &Cluster,
    root: &FieldPath,
) -> Result<(UpstreamProtocol, ConnectionOptions), FieldError> {
    let mut connection = ConnectionOptions {
        tcp_keepalive: match &c.upstream_connection_options {
            None => None,
            Some(o) => tcp_keepalive(o, &root.field("upstream_connection_options"))?,
        },
        ..ConnectionOptions::default()
    };
    let options_path = root.field("typed_extension_protocol_options");
    let mut typed = None;
    for (key, any) in &c.typed_extension_protocol_options {
        let path = options_path.field(key.clone());
        if key != HTTP_PROTOCOL_OPTIONS {
            return Err(FieldError::unsupported(path));
        }
        let options = unpack::<HttpProtocolOptions>(any, &path)?;
        if let Some(common) = &options.common_http_protocol_options {
            common_http(
                common,
                &path.field("common_http_protocol_options"),
                &mut connection,
            )?;
        }
        typed = Some(typed_protocol(&options, &path)?);
    }
    // The typed options' HTTP/2 settings, else the legacy field's.
    let (protocol, streams) = match typed {
        Some(typed) => typed,
        None => legacy_protocol(c, root)?,
    };
    connection.max_concurrent_streams = streams;
    Ok((protocol, connection))
}

/// A protocol, and the HTTP/2 `max_concurrent_streams` cap that goes with it.
type Protocol = (UpstreamProtocol, Option<u32>);

/// The fields Envoy deprecated for the typed options, still sent by older control planes.
#[allow(deprecated)]
fn legacy_protocol(c: &Cluster, root: &FieldPath) -> Result<Protocol, FieldError> {
    let streams = match &c.http2_protocol_options {
        Some(http2) => http2_streams(http2, &root.field("http2_protocol_options"))?,
        None => None,
    };
    if c.protocol_selection == ClusterProtocolSelection::UseDownstreamProtocol as i32 {
        return Ok((UpstreamProtocol::UseDownstream, streams));
    }
    if c.http2_protocol_options.is_some() {
        return Ok((UpstreamProtocol::Http2, streams));
    }
    Ok((UpstreamProtocol::Http1, None))
}

fn typed_protocol(o: &HttpProtocolOptions, path: &FieldPath) -> Result<Protocol, FieldError> {
    reject_if(
        o.upstream_http_protocol_options.is_some(),
        path,
        "upstream_http_protocol_options",
    )?;
    reject_if(!o.http_filters.is_empty(), path, "http_filters")?;
    reject_if(
        o.header_validation_config.is_some(),
        path,
        "header_validation_config",
    )?;
    reject_if(o.outlier_detection.is_some(), path, "outlier_detection")?;
    reject_if(
        !o.request_mirror_policies.is_empty(),
        path,
        "request_mirror_policies",
    )?;
    reject_if(!o.hash_policy.is_empty(), path, "hash_policy")?;
    reject_if(o.retry_policy.is_some(), path, "retry_policy")?;
    match &o.upstream_protocol_options {
        None => Ok((UpstreamProtocol::Http1, None)),
        Some(UpstreamProtocolOptions::ExplicitHttpConfig(explicit)) => {
            let path = path.field("explicit_http_config");
            match &explicit.protocol_config {
                Some(ProtocolConfig::HttpProtocolOptions(_)) | None => {
                    Ok((UpstreamProtocol::Http1, None))
                }
                Some(ProtocolConfig::Http2ProtocolOptions(http2)) => Ok((
                    UpstreamProtocol::Http2,
                    http2_streams(http2, &path.field("http2_protocol_options"))?,
                )),
                Some(ProtocolConfig::Http3ProtocolOptions(_)) => Err(FieldError::unsupported(
                    path.field("http3_protocol_options"),
                )),
            }
        }
        Some(UpstreamProtocolOptions::UseDownstreamProtocolConfig(config)) => {
            let path = path.field("use_downstream_protocol_config");
            reject_if(
                config.http3_protocol_options.is_some(),
                &path,
                "http3_protocol_options",
            )?;
            let streams = match &config.http2_protocol_options {
                Some(http2) => http2_streams(http2, &path.field("http2_protocol_options"))?,
                None => None,
            };
            Ok((UpstreamProtocol::UseDownstream, streams))
        }
        Some(UpstreamProtocolOptions::AutoConfig(_)) => {
            Err(FieldError::unsupported(path.field("auto_config")))
        }
    }
}

/// `max_concurrent_streams` of HTTP/2 options: `None` when unset or Envoy's default (no cap).
fn http2_streams(o: &Http2ProtocolOptions, path: &FieldPath) -> Result<Option<u32>, FieldError> {
    match &o.max_concurrent_streams {
        None
        | Some(UInt32Value {
            value: UNCAPPED_STREAMS,
        }) => Ok(None),
        Some(UInt32Value { value }) if (1..UNCAPPED_STREAMS).contains(value) => Ok(Some(*value)),
        Some(UInt32Value { value }) => Err(FieldError::new(
            path.field("max_concurrent_streams"),
            format!("{value} is outside 1..={UNCAPPED_STREAMS}"),
        )),
    }
}

/// `common_http_protocol_options`: the lifetime of pooled connections.
fn common_http(
    o: &CommonHttpProtocolOptions,
    path: &FieldPath,
    connection: &mut ConnectionOptions,
) -> Result<(), FieldError> {
    reject_if(
        o.max_connection_duration_jitter.is_some(),
        path,
        "max_connection_duration_jitter",
    )?;
    reject_if(o.max_headers_count.is_some(), path, "max_headers_count")?;
    reject_if(
        o.max_response_headers_kb.is_some(),
        path,
        "max_response_headers_kb",
    )?;
    reject_if(o.max_stream_duration.is_some(), path, "max_stream_duration")?;
    reject_if(
        o.headers_with_underscores_action != 0,
        path,
        "headers_with_underscores_action",
    )?;
    connection.idle_timeout = timeout(
        o.idle_timeout.as_ref(),
        Some(ConnectionOptions::DEFAULT_IDLE_TIMEOUT),
        &path.field("idle_timeout"),
    )?;
    // 0 is Envoy's "no limit", as unset is.
    connection.max_requests_per_connection = o
        .max_requests_per_connection
        .as_ref()
        .map(|m| m.value)
        .filter(|&m| m > 0);
    connection.max_connection_duration = match &o.max_connection_duration {
        None => None,
        Some(d) => {
            let path = path.field("max_connection_duration");
            let d = duration(d, &path)?;
            if d.is_zero() {
                return Err(FieldError::new(path, "must be longer than 0s"));
            }
            Some(d)
        }
    };
    Ok(())
}

/// `upstream_connection_options`: only `tcp_keepalive`.
fn tcp_keepalive(
    o: &UpstreamConnectionOptions,
    path: &FieldPath,
) -> Result<Option<TcpKeepalive>, FieldError> {
    reject_if(
        o.set_local_interface_name_on_upstream_connections,
        path,
        "set_local_interface_name_on_upstream_connections",
    )?;
    reject_if(
        o.happy_eyeballs_config.is_some(),
        path,
        "happy_eyeballs_config",
    )?;
    let Some(k) = &o.tcp_keepalive else {
        return Ok(None);
    };
    let path = path.field("tcp_keepalive");
    let bounded = |value: &Option<UInt32Value>, field: &str, max: u32| match value {
        None => Ok(None),
        Some(UInt32Value { value }) if (1..=max).contains(value) => Ok(Some(*value)),
        Some(UInt32Value { value }) => Err(FieldError::new(
            path.field(field),
            format!("{value} is outside 1..={max}"),
        )),
    };
    let seconds = |value: Option<u32>| value.map(|s| Duration::from_secs(u64::from(s)));
    Ok(Some(TcpKeepalive {
        probes: bounded(
            &k.keepalive_probes,
            "keepalive_probes",
            MAX_KEEPALIVE_PROBES,
        )?,
        time: seconds(bounded(
            &k.keepalive_time,
            "keepalive_time",
            MAX_KEEPALIVE_SECONDS,
        )?),
        interval: seconds(bounded(
            &k.keepalive_interval,
            "keepalive_interval",
            MAX_KEEPALIVE_SECONDS,
        )?),
    }))
}

/// `common_lb_config`: only `healthy_panic_threshold`, a percentage that Envoy rounds to a
/// whole one; Envoy's 50 when unset.
pub(super) fn panic_threshold(c: &Cluster, path: &FieldPath) -> Result<u32, FieldError> {
    let Some(common) = &c.common_lb_config else {
        return Ok(DEFAULT_PANIC_THRESHOLD);
    };
    let only_panic = CommonLbConfig {
        healthy_panic_threshold: common.healthy_panic_threshold,
        ..CommonLbConfig::default()
    };
    if *common != only_panic {
        return Err(FieldError::new(
            path.clone(),
            "only healthy_panic_threshold is supported by mesh-proxy",
        ));
    }
    match &common.healthy_panic_threshold {
        None => Ok(DEFAULT_PANIC_THRESHOLD),
        Some(p) if (0.0..=100.0).contains(&p.value) => Ok(p.value.round() as u32),
        Some(p) => Err(FieldError::new(
            path.field("healthy_panic_threshold"),
            format!("{} is outside 0..=100", p.value),
        )),
    }
}

#[cfg(test)]
mod tests;
