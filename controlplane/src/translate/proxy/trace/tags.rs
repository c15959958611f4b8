//! The tags of a proxy's spans: Istio's own naming the workload, and the custom tags of the
//! mesh config or of a Telemetry resource.

use envoy_types::pb::envoy::r#type::tracing::v3::{CustomTag, custom_tag};
use mesh_common::api;

use super::{super::Proxy, CANONICAL_NAME_LABELS, CANONICAL_REVISION_LABELS, CLUSTER_ID};
use crate::mesh_config::MeshConfig;

/// Istio's tags naming the proxy's workload, as literals, in tag order. Istio's dry-run
/// authorization tags read request metadata mesh.rs does not write, and are left out.
pub(super) fn istio_tags(mesh: &MeshConfig, proxy: &Proxy) -> Vec<CustomTag> {
    let (service, revision) = canonical(proxy);
    let namespace = if proxy.namespace.is_empty() {
        "default"
    } else {
        &proxy.namespace
    };
    [
        ("istio.canonical_revision", revision.as_str()),
        ("istio.canonical_service", service.as_str()),
        ("istio.cluster_id", CLUSTER_ID),
        // Istio's injector gives proxies the trust domain as mesh id when none is configured.
        ("istio.mesh_id", mesh.trust_domain.as_str()),
        ("istio.namespace", namespace),
    ]
    .into_iter()
    .map(|(tag, value)| CustomTag {
        tag: tag.to_string(),
        r#type: Some(custom_tag::Type::Literal(custom_tag::Literal {
            value: value.to_string(),
        })),
    })
    .collect()
}

/// One of `defaultConfig.tracing.customTags`: a literal, or a request header with its default.
/// Environment tags read the proxy's environment, which mesh-proxy does not expose to tags.
pub(super) fn custom_tag(name: &str, tag: &serde_json::Value) -> Result<CustomTag, String> {
    let text = |value: &serde_json::Value, key: &str| {
        value
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let kind = if let Some(literal) = tag.get("literal") {
        custom_tag::Type::Literal(custom_tag::Literal {
            value: text(literal, "value"),
        })
    } else if let Some(header) = tag.get("header") {
        let header_name = text(header, "name");
        if header_name.is_empty() {
            return Err("a header tag needs the header's name".to_string());
        }
        custom_tag::Type::RequestHeader(custom_tag::Header {
            name: header_name,
            default_value: text(header, "defaultValue"),
        })
    } else if tag.get("environment").is_some() {
        return Err("environment tags are not supported by mesh-proxy".to_string());
    } else {
        return Err("write literal, header or environment".to_string());
    };
    Ok(CustomTag {
        tag: name.to_string(),
        r#type: Some(kind),
    })
}

/// The canonical service (else the workload name, else `unknown`) and revision (else
/// `latest`) of the proxy's workload.
pub fn canonical(proxy: &Proxy) -> (String, String) {
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| proxy.labels.get(*k).filter(|v| !v.is_empty()))
            .cloned()
    };
    let service = first(&CANONICAL_NAME_LABELS)
        .or_else(|| (!proxy.workload_name.is_empty()).then(|| proxy.workload_name.clone()))
        .unwrap_or_else(|| "unknown".to_string());
    let revision = first(&CANONICAL_REVISION_LABELS).unwrap_or_else(|| "latest".to_string());
    (service, revision)
}

/// One of a Telemetry's `customTags`: a literal, or a request header with its default.
/// Environment tags read the proxy's environment, which mesh-proxy does not expose to tags.
pub(super) fn telemetry_tag(name: &str, tag: &api::CustomTag) -> Result<CustomTag, String> {
    let kind = match (&tag.literal, &tag.header, &tag.environment) {
        (Some(literal), _, _) => custom_tag::Type::Literal(custom_tag::Literal {
            value: literal.value.clone(),
        }),
        (None, Some(header), _) => custom_tag::Type::RequestHeader(custom_tag::Header {
            name: header.name.clone(),
            default_value: header.default_value.clone(),
        }),
        (None, None, Some(_)) => {
            return Err("environment tags are not supported by mesh-proxy".to_string());
        }
        // Validation refuses a tag that sets none.
        (None, None, None) => return Err("write literal, header or environment".to_string()),
    };
    Ok(CustomTag {
        tag: name.to_string(),
        r#type: Some(kind),
    })
}
