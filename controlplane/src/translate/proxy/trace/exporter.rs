//! The OpenTelemetry exporter a tracing provider of the mesh config describes: the collector's
//! cluster and the tracer's `OpenTelemetryConfig`, as Istio's `otelConfig` builds them.

use envoy_types::pb::envoy::config::{
    core::v3::{GrpcService, grpc_service},
    trace::v3::OpenTelemetryConfig,
};

use super::super::Proxy;
use crate::{
    mesh_config::{ExtensionProvider, OpenTelemetryProvider},
    model::{Service, Snapshot},
    translate::{cluster_name, duration},
};

/// The OpenTelemetry provider `name`, its tracer's config and the collector's cluster, or why
/// it cannot be used.
pub(super) fn exporter<'a>(
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

/// The span's service name, as Istio's bootstrap names the proxy's cluster by default
/// (`APP_LABEL_AND_NAMESPACE`): `<app>.<namespace>`, else `<workload>.<namespace>`, else
/// `istio-proxy.<namespace>`.
pub(super) fn service_name(proxy: &Proxy) -> String {
    let name = proxy
        .labels
        .get("app")
        .filter(|a| !a.is_empty())
        .cloned()
        .or_else(|| (!proxy.workload_name.is_empty()).then(|| proxy.workload_name.clone()))
        .unwrap_or_else(|| "istio-proxy".to_string());
    format!("{name}.{}", proxy.namespace)
}
