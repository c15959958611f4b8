//! The connection manager's `tracing`, with Envoy's OpenTelemetry tracer
//! (`envoy.config.trace.v3.OpenTelemetryConfig`) exporting over gRPC to an `envoy_grpc`
//! cluster. `tracing` without a `provider` starts no span, as in Envoy.
//!
//! Refused, each naming its field: another tracer type (Zipkin, Datadog, …),
//! `spawn_upstream_span: true`, `verbose: true`, `operation`, `upstream_operation`, custom tags
//! other than `literal` and `request_header`; in `OpenTelemetryConfig`: `http_service`
//! (OTLP/HTTP), `exporter`, `resource_detectors`, `sampler`, `max_cache_size`,
//! `set_instrumentation_scope: true`; in `grpc_service`: `google_grpc`, `retry_policy`, and
//! `envoy_grpc`'s `retry_policy` and `max_receive_message_length`. `skip_envoy_headers` is
//! accepted either way: exports never carry `x-envoy-*` headers.

use std::{sync::Arc, time::Duration};

use envoy_types::pb::envoy::{
    config::{
        core::v3::{GrpcService, grpc_service::TargetSpecifier},
        trace::v3::{OpenTelemetryConfig, tracing::http::ConfigType},
    },
    extensions::filters::network::http_connection_manager::v3::http_connection_manager::Tracing,
    r#type::{tracing::v3::custom_tag::Type as TagType, v3::Percent},
};
use http::{HeaderName, HeaderValue};
use mesh_common::path::FieldPath;
use prost::Name;

use super::super::super::common::duration;
use crate::{
    config_error::{FieldError, reject_if},
    trace_export::{
        CustomTag, OtlpService, TagValue, TracingConfig,
        config::{DEFAULT_EXPORT_TIMEOUT, DEFAULT_MAX_PATH_TAG_LENGTH},
    },
    typed_config::unpack,
};

/// Envoy's `service.name` when `service_name` is empty.
const DEFAULT_SERVICE_NAME: &str = "unknown_service:envoy";

/// Compiles `tracing` found at `path`; `None` when no provider is set.
pub(super) fn tracing(
    t: &Tracing,
    path: &FieldPath,
) -> Result<Option<Arc<TracingConfig>>, FieldError> {
    reject_if(
        t.spawn_upstream_span.as_ref().is_some_and(|v| v.value),
        path,
        "spawn_upstream_span",
    )?;
    reject_if(t.verbose, path, "verbose")?;
    reject_if(!t.operation.is_empty(), path, "operation")?;
    reject_if(!t.upstream_operation.is_empty(), path, "upstream_operation")?;
    let custom_tags = t
        .custom_tags
        .iter()
        .enumerate()
        .map(|(i, tag)| custom_tag(tag, &path.field("custom_tags").index(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(provider) = &t.provider else {
        return Ok(None);
    };
    let provider_path = path.field("provider");
    let config_path = provider_path.field("typed_config");
    let Some(ConfigType::TypedConfig(any)) = &provider.config_type else {
        return Err(FieldError::new(config_path, "is required"));
    };
    if any.type_url != OpenTelemetryConfig::type_url() {
        return Err(FieldError::new(
            config_path,
            format!(
                "tracer {:?} ({}) is not supported by mesh-proxy: only envoy.tracers.opentelemetry \
                 (OTLP over gRPC) is",
                provider.name, any.type_url
            ),
        ));
    }
    let otel = unpack::<OpenTelemetryConfig>(any, &config_path)?;
    Ok(Some(Arc::new(TracingConfig {
        client_sampling: percent(t.client_sampling.as_ref()),
        random_sampling: percent(t.random_sampling.as_ref()),
        overall_sampling: percent(t.overall_sampling.as_ref()),
        max_path_tag_length: t
            .max_path_tag_length
            .as_ref()
            .map_or(DEFAULT_MAX_PATH_TAG_LENGTH, |v| v.value as usize),
        custom_tags,
        service: Arc::new(otlp_service(&otel, &config_path)?),
    })))
}

/// Envoy's sampling fields default to 100 %.
fn percent(p: Option<&Percent>) -> f64 {
    p.map_or(100.0, |p| p.value)
}

fn custom_tag(
    tag: &envoy_types::pb::envoy::r#type::tracing::v3::CustomTag,
    path: &FieldPath,
) -> Result<CustomTag, FieldError> {
    if tag.tag.is_empty() {
        return Err(FieldError::new(path.field("tag"), "must not be empty"));
    }
    let value = match &tag.r#type {
        Some(TagType::Literal(literal)) => TagValue::Literal(literal.value.clone()),
        Some(TagType::RequestHeader(header)) => TagValue::RequestHeader {
            name: HeaderName::from_bytes(header.name.as_bytes()).map_err(|_| {
                FieldError::new(
                    path.field("request_header").field("name"),
                    format!("{:?} is not a header name", header.name),
                )
            })?,
            default: header.default_value.clone(),
        },
        Some(TagType::Environment(_)) => return Err(unsupported_tag(path, "environment")),
        Some(TagType::Metadata(_)) => return Err(unsupported_tag(path, "metadata")),
        Some(TagType::Value(_)) => return Err(unsupported_tag(path, "value")),
        None => {
            return Err(FieldError::new(
                path.clone(),
                "one of literal, environment, request_header, metadata or value is required",
            ));
        }
    };
    Ok(CustomTag {
        tag: tag.tag.clone(),
        value,
    })
}

fn unsupported_tag(path: &FieldPath, kind: &str) -> FieldError {
    FieldError::new(
        path.field(kind),
        format!(
            "custom tag type {kind:?} is not supported by mesh-proxy: use literal or request_header"
        ),
    )
}

fn otlp_service(otel: &OpenTelemetryConfig, path: &FieldPath) -> Result<OtlpService, FieldError> {
    if otel.http_service.is_some() {
        return Err(FieldError::new(
            path.field("http_service"),
            "OTLP/HTTP is not supported by mesh-proxy: export over gRPC with grpc_service",
        ));
    }
    reject_if(otel.exporter.is_some(), path, "exporter")?;
    reject_if(
        !otel.resource_detectors.is_empty(),
        path,
        "resource_detectors",
    )?;
    reject_if(otel.sampler.is_some(), path, "sampler")?;
    reject_if(otel.max_cache_size.is_some(), path, "max_cache_size")?;
    reject_if(
        otel.set_instrumentation_scope
            .as_ref()
            .is_some_and(|v| v.value),
        path,
        "set_instrumentation_scope",
    )?;
    let grpc_path = path.field("grpc_service");
    let Some(grpc) = &otel.grpc_service else {
        return Err(FieldError::new(grpc_path, "is required"));
    };
    let (cluster, authority, timeout, initial_metadata) = grpc_service(grpc, &grpc_path)?;
    let mut resource = Vec::new();
    if otel
        .set_service_name_resource_attribute
        .as_ref()
        .is_none_or(|v| v.value)
    {
        let name = if otel.service_name.is_empty() {
            DEFAULT_SERVICE_NAME.to_owned()
        } else {
            otel.service_name.clone()
        };
        resource.push(("service.name", name));
    }
    if otel
        .set_telemetry_sdk_resource_attributes
        .as_ref()
        .is_none_or(|v| v.value)
    {
        resource.push(("telemetry.sdk.language", "rust".to_owned()));
        resource.push(("telemetry.sdk.name", "mesh-proxy".to_owned()));
        resource.push((
            "telemetry.sdk.version",
            env!("CARGO_PKG_VERSION").to_owned(),
        ));
    }
    Ok(OtlpService {
        cluster,
        cluster_path: grpc_path.field("envoy_grpc").field("cluster_name"),
        authority,
        timeout: timeout.unwrap_or(DEFAULT_EXPORT_TIMEOUT),
        send_grpc_timeout: timeout.is_some(),
        initial_metadata,
        resource,
    })
}

type Metadata = Vec<(HeaderName, HeaderValue)>;

fn grpc_service(
    grpc: &GrpcService,
    path: &FieldPath,
) -> Result<(String, String, Option<Duration>, Metadata), FieldError> {
    reject_if(grpc.retry_policy.is_some(), path, "retry_policy")?;
    let envoy = match &grpc.target_specifier {
        Some(TargetSpecifier::EnvoyGrpc(envoy)) => envoy,
        Some(TargetSpecifier::GoogleGrpc(_)) => {
            return Err(FieldError::new(
                path.field("google_grpc"),
                "not supported by mesh-proxy: name the collector's cluster with envoy_grpc",
            ));
        }
        None => {
            return Err(FieldError::new(path.field("envoy_grpc"), "is required"));
        }
    };
    let envoy_path = path.field("envoy_grpc");
    if envoy.cluster_name.is_empty() {
        return Err(FieldError::new(
            envoy_path.field("cluster_name"),
            "must not be empty",
        ));
    }
    reject_if(envoy.retry_policy.is_some(), &envoy_path, "retry_policy")?;
    reject_if(
        envoy.max_receive_message_length.is_some(),
        &envoy_path,
        "max_receive_message_length",
    )?;
    let authority = if envoy.authority.is_empty() {
        envoy.cluster_name.clone()
    } else {
        envoy.authority.clone()
    };
    // Zero means no timeout in Envoy; the exporter still bounds each export.
    let timeout = match &grpc.timeout {
        Some(d) => Some(duration(d, &path.field("timeout"))?).filter(|d| !d.is_zero()),
        None => None,
    };
    let metadata = grpc
        .initial_metadata
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let name = HeaderName::from_bytes(h.key.as_bytes());
            let bytes = if h.value.is_empty() {
                h.raw_value.as_slice()
            } else {
                h.value.as_bytes()
            };
            let value = HeaderValue::from_bytes(bytes);
            match (name, value) {
                (Ok(name), Ok(value)) => Ok((name, value)),
                _ => Err(FieldError::new(
                    path.field("initial_metadata").index(i),
                    format!("{:?}: {:?} is not a valid header", h.key, h.value),
                )),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((envoy.cluster_name.clone(), authority, timeout, metadata))
}

#[cfg(test)]
mod tests;
