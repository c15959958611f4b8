//! The `tracing` of a proxy's HTTP connection managers, from the mesh config as Istio reads it
//! when no Telemetry resource applies: with `enableTracing` on, the first provider of
//! `defaultProviders.tracing`, which must be an `opentelemetry` provider exporting over gRPC
//! to a service of the registry. Istio's `configureFromProviderConfig`, `otelConfig`,
//! `configureSampling` and `buildServiceTags` decide the fields.
//!
//! What cannot be honoured (another provider kind, an OTLP/HTTP exporter, a collector the proxy
//! has no cluster for) leaves tracing off and says why, as Istio does in its log.

use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{GrpcService, grpc_service},
            trace::v3::{OpenTelemetryConfig, tracing::Http, tracing::http::ConfigType},
        },
        extensions::filters::network::http_connection_manager::v3::http_connection_manager::Tracing,
        r#type::{
            tracing::v3::{CustomTag, custom_tag},
            v3::Percent,
        },
    },
    google::protobuf::{BoolValue, UInt32Value},
};
use envoy_types::util::pack_any;

use super::{Proxy, ProxyKind};
use crate::{
    mesh_config::{ExtensionProvider, MeshConfig, OpenTelemetryProvider},
    model::{Service, Snapshot},
    translate::{cluster_name, duration},
};

/// Envoy's name of the OpenTelemetry tracer.
pub const OPENTELEMETRY_TRACER: &str = "envoy.tracers.opentelemetry";

/// The labels that name a workload's canonical service and revision, most specific first, as
/// Istio's injector reads them.
pub const CANONICAL_NAME_LABELS: [&str; 3] = [
    "service.istio.io/canonical-name",
    "app.kubernetes.io/name",
    "app",
];
pub const CANONICAL_REVISION_LABELS: [&str; 3] = [
    "service.istio.io/canonical-revision",
    "app.kubernetes.io/version",
    "version",
];

/// The cluster id Istio's tags carry for a single-cluster mesh (its default cluster name).
const CLUSTER_ID: &str = "Kubernetes";

/// The tracing of one proxy's connection managers, and what in the mesh config it could not
/// honour. `tracing` is `None` when tracing is off.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyTracing {
    pub tracing: Option<Tracing>,
    /// The cluster spans are exported to, when tracing is on.
    pub collector: Option<String>,
    pub warnings: Vec<String>,
}

/// Whether the mesh config selects a tracing provider at all: then translation reads the
/// proxy labels of [`CANONICAL_NAME_LABELS`] and [`CANONICAL_REVISION_LABELS`].
pub fn enabled(mesh: &MeshConfig) -> bool {
    mesh.enable_tracing && !mesh.default_providers.tracing.is_empty()
}

/// Whether `service` may be the collector the mesh config's tracing provider names: proxies
/// that trace read it, gateways included.
pub fn may_be_collector(mesh: &MeshConfig, service: &Service) -> bool {
    if !enabled(mesh) {
        return false;
    }
    let name = &mesh.default_providers.tracing[0];
    mesh.extension_providers
        .iter()
        .filter(|p| p.name == *name)
        .filter_map(|p| p.opentelemetry.as_ref())
        .any(|otel| match otel.service.split_once('/') {
            Some((namespace, hostname)) => {
                namespace == service.namespace && hostname == service.hostname
            }
            None => otel.service == service.hostname,
        })
}

/// The tracing of `proxy`'s connection managers. `has_cluster` says whether the proxy is sent
/// the cluster of a port of a service, which the exporter's gRPC stream needs.
pub fn for_proxy(
    snapshot: &Snapshot,
    proxy: &Proxy,
    has_cluster: &dyn Fn(&Service, u16) -> bool,
) -> ProxyTracing {
    let mesh = snapshot.mesh();
    let mut out = ProxyTracing::default();
    if !enabled(mesh) {
        return out;
    }
    let names = &mesh.default_providers.tracing;
    if names.len() > 1 {
        out.warnings.push(format!(
            "defaultProviders.tracing names {} providers; only the first, {:?}, is used, as in Istio",
            names.len(),
            names[0]
        ));
    }
    let sampling = mesh
        .default_config
        .tracing
        .as_ref()
        .map_or(0.0, |t| t.sampling);
    if sampling < 0.0 {
        out.warnings.push(format!(
            "defaultConfig.tracing.sampling {sampling} is not a percentage; 1% is used"
        ));
    }
    let legacy = mesh.default_config.tracing.as_ref();
    for field in legacy.iter().flat_map(|t| t.other.keys()) {
        out.warnings.push(format!(
            "defaultConfig.tracing.{field} has no effect: spans go to the provider of defaultProviders.tracing"
        ));
    }
    match exporter(snapshot, proxy, &names[0], has_cluster) {
        Ok((otel, config, collector)) => {
            let mut tracing = hcm_tracing(mesh, proxy, otel, config);
            if let Some(legacy) = legacy {
                if tracing.max_path_tag_length.is_none() && legacy.max_path_tag_length != 0 {
                    tracing.max_path_tag_length = Some(UInt32Value {
                        value: legacy.max_path_tag_length,
                    });
                }
                for (name, tag) in &legacy.custom_tags {
                    match custom_tag(name, tag) {
                        Ok(tag) => tracing.custom_tags.push(tag),
                        Err(why) => out.warnings.push(format!(
                            "defaultConfig.tracing.customTags.{name}: {why}; the tag is left out"
                        )),
                    }
                }
                // Istio sorts every tag by name.
                tracing.custom_tags.sort_by(|a, b| a.tag.cmp(&b.tag));
            }
            out.tracing = Some(tracing);
            out.collector = Some(collector);
        }
        Err(why) => out.warnings.push(format!(
            "tracing provider {:?}: {why}; tracing is off",
            names[0]
        )),
    }
    out
}

/// The OpenTelemetry provider `name`, its tracer's config and the collector's cluster, or why
/// it cannot be used.
fn exporter<'a>(
    snapshot: &'a Snapshot,
    proxy: &Proxy,
    name: &str,
    has_cluster: &dyn Fn(&Service, u16) -> bool,
) -> Result<(&'a OpenTelemetryProvider, OpenTelemetryConfig, String), String> {
    let mesh = snapshot.mesh();
    let (index, provider) = mesh
        .extension_providers
        .iter()
        .enumerate()
        .find(|(_, p)| p.name == name)
        .ok_or_else(|| "no extensionProviders entry has this name".to_string())?;
    let at = format!("extensionProviders[{index}]");
    let otel = opentelemetry(provider).map_err(|kind| {
        format!("{at} is a {kind} provider; mesh.rs traces over OpenTelemetry only")
    })?;
    if let Some(field) = otel.other.keys().next() {
        return Err(format!(
            "{at}.opentelemetry.{field} is not supported (spans are exported over gRPC, with no resource detectors or samplers)"
        ));
    }
    let grpc = otel.grpc.as_ref();
    if let Some(field) = grpc.and_then(|g| g.other.keys().next()) {
        return Err(format!("{at}.opentelemetry.grpc.{field} is not supported"));
    }
    let timeout = match grpc.and_then(|g| g.timeout.as_ref()) {
        None => None,
        Some(timeout) => Some(
            timeout
                .parse()
                .map_err(|e| format!("{at}.opentelemetry.grpc.timeout: {e}"))?,
        ),
    };
    let port = u16::try_from(otel.port)
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| format!("{at}.opentelemetry.port {} is not a port", otel.port))?;
    let service = lookup(snapshot, &otel.service).map_err(|why| format!("{at}: {why}"))?;
    if !has_cluster(service, port) {
        return Err(format!(
            "{at}: this proxy has no cluster for port {port} of {} (the service must be visible \
             to it, its Sidecar's egress hosts must admit it, and its endpoints must be sent by \
             the control plane)",
            service.hostname
        ));
    }
    let collector = cluster_name(port, "", &service.hostname);
    let config = OpenTelemetryConfig {
        grpc_service: Some(GrpcService {
            target_specifier: Some(grpc_service::TargetSpecifier::EnvoyGrpc(
                grpc_service::EnvoyGrpc {
                    cluster_name: collector.clone(),
                    authority: service.hostname.clone(),
                    ..grpc_service::EnvoyGrpc::default()
                },
            )),
            timeout: timeout.map(duration),
            ..GrpcService::default()
        }),
        service_name: service_name(proxy),
        ..OpenTelemetryConfig::default()
    };
    Ok((otel, config, collector))
}

/// The provider's `opentelemetry` settings, or the name of the kind it is instead.
fn opentelemetry(provider: &ExtensionProvider) -> Result<&OpenTelemetryProvider, String> {
    match (&provider.opentelemetry, provider.other.keys().next()) {
        (Some(otel), _) => Ok(otel),
        (None, Some(kind)) => Err(kind.clone()),
        (None, None) => Err("kind-less".to_string()),
    }
}

/// The service `service` names, as Istio's `LookupCluster` finds it: `namespace/hostname`, or a
/// hostname only one namespace declares.
fn lookup<'a>(snapshot: &'a Snapshot, service: &str) -> Result<&'a Service, String> {
    if service.is_empty() {
        return Err("opentelemetry.service is empty".to_string());
    }
    if let Some((namespace, hostname)) = service.split_once('/') {
        return snapshot
            .service(hostname, namespace)
            .map(|s| &**s)
            .ok_or_else(|| format!("no service {hostname} in namespace {namespace}"));
    }
    let mut found = snapshot.services().iter().filter(|s| s.hostname == service);
    match (found.next(), found.next()) {
        (Some(only), None) => Ok(only),
        (Some(_), Some(_)) => Err(format!(
            "{service} is declared in several namespaces: write <namespace>/{service}"
        )),
        (None, _) => Err(format!("no service {service} in the registry")),
    }
}

/// The connection managers' `tracing`, as Istio fills it for a provider: every span sampled
/// once started (client and overall 100%), `random_sampling` from `defaultConfig`, the
/// provider's `maxTagLength`, Istio's identity tags, and for gateways a span per upstream
/// request.
fn hcm_tracing(
    mesh: &MeshConfig,
    proxy: &Proxy,
    otel: &OpenTelemetryProvider,
    config: OpenTelemetryConfig,
) -> Tracing {
    let percent = |value: f64| Some(Percent { value });
    Tracing {
        client_sampling: percent(100.0),
        random_sampling: percent(mesh.default_config.sampling()),
        overall_sampling: percent(100.0),
        max_path_tag_length: (otel.max_tag_length != 0).then_some(UInt32Value {
            value: otel.max_tag_length,
        }),
        custom_tags: custom_tags(mesh, proxy),
        provider: Some(Http {
            name: OPENTELEMETRY_TRACER.to_string(),
            config_type: Some(ConfigType::TypedConfig(pack_any(config))),
        }),
        spawn_upstream_span: (proxy.kind == ProxyKind::Router).then_some(BoolValue { value: true }),
        ..Tracing::default()
    }
}

/// Istio's tags naming the proxy's workload, as literals, in tag order. Istio's dry-run
/// authorization tags read request metadata mesh.rs does not write, and are left out.
fn custom_tags(mesh: &MeshConfig, proxy: &Proxy) -> Vec<CustomTag> {
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
fn custom_tag(name: &str, tag: &serde_json::Value) -> Result<CustomTag, String> {
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

/// The span's service name, as Istio's bootstrap names the proxy's cluster by default
/// (`APP_LABEL_AND_NAMESPACE`): `<app>.<namespace>`, else `<workload>.<namespace>`, else
/// `istio-proxy.<namespace>`.
fn service_name(proxy: &Proxy) -> String {
    let name = proxy
        .labels
        .get("app")
        .filter(|a| !a.is_empty())
        .cloned()
        .or_else(|| (!proxy.workload_name.is_empty()).then(|| proxy.workload_name.clone()))
        .unwrap_or_else(|| "istio-proxy".to_string());
    format!("{name}.{}", proxy.namespace)
}

#[cfg(test)]
mod tests;
