//! The `tracing` of a proxy's HTTP connection managers, as Istio sets it from its Telemetry
//! resources and mesh config: the provider the applicable Telemetry `tracing` entries name
//! (see [`telemetry`]), else the first of `defaultProviders.tracing` when `enableTracing` is on.
//! The provider must be an `opentelemetry` one exporting over gRPC to a service of the registry.
//! Istio's `configureFromProviderConfig`, `otelConfig`, `configureSampling` and
//! `buildServiceTags` decide the fields. A sidecar's outbound connection managers and a
//! gateway's trace as Telemetry's `CLIENT` mode says, a sidecar's inbound ones as `SERVER`.
//!
//! What cannot be honoured (another provider kind, an OTLP/HTTP exporter, a collector the proxy
//! has no cluster for) leaves tracing off and says why, as Istio does in its log.

mod exporter;
mod tags;
mod telemetry;

use envoy_types::pb::{
    envoy::{
        config::trace::v3::{OpenTelemetryConfig, tracing::Http, tracing::http::ConfigType},
        extensions::filters::network::http_connection_manager::v3::http_connection_manager::Tracing,
        r#type::v3::Percent,
    },
    google::protobuf::{BoolValue, UInt32Value},
};
use envoy_types::util::pack_any;

use self::{
    exporter::exporter,
    tags::{custom_tag, istio_tags, telemetry_tag},
    telemetry::TracingSpec,
};
use super::{Proxy, ProxyKind};
use crate::{
    mesh_config::{MeshConfig, OpenTelemetryProvider},
    model::{Service, Snapshot},
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

/// The tracing of one side of a proxy's connection managers, and what in the mesh config or
/// the Telemetry resources it could not honour. `tracing` is `None` when tracing is off.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProxyTracing {
    pub tracing: Option<Tracing>,
    /// The cluster spans are exported to, when tracing is on.
    pub collector: Option<String>,
    pub warnings: Vec<String>,
}

/// Whether the mesh config selects a default tracing provider.
pub fn enabled(mesh: &MeshConfig) -> bool {
    mesh.enable_tracing && !mesh.default_providers.tracing.is_empty()
}

/// Whether some proxy may trace: the mesh config or a Telemetry resource names a provider.
/// Then translation reads the proxy labels of [`CANONICAL_NAME_LABELS`] and
/// [`CANONICAL_REVISION_LABELS`].
pub fn may_trace(snapshot: &Snapshot) -> bool {
    enabled(snapshot.mesh()) || telemetry::names_a_provider(snapshot)
}

/// Whether `service` may be the collector of a tracing provider: proxies that trace read it,
/// gateways included. Any `opentelemetry` provider of the mesh config may be named, by
/// `defaultProviders.tracing` or by a Telemetry resource.
pub fn may_be_collector(mesh: &MeshConfig, service: &Service) -> bool {
    mesh.extension_providers
        .iter()
        .filter_map(|p| p.opentelemetry.as_ref())
        .any(|otel| match otel.service.split_once('/') {
            Some((namespace, hostname)) => {
                namespace == service.namespace && hostname == service.hostname
            }
            None => otel.service == service.hostname,
        })
}

/// The tracing of `proxy`'s client side: a sidecar's outbound connection managers, a
/// gateway's. `has_cluster` says whether the proxy is sent the cluster of a port of a service,
/// which the exporter's gRPC stream needs.
pub fn for_proxy(
    snapshot: &Snapshot,
    proxy: &Proxy,
    has_cluster: &dyn Fn(&Service, u16) -> bool,
) -> ProxyTracing {
    let specs = telemetry::resolve(snapshot, proxy);
    let mut warnings = specs.warnings;
    let mut out = side(snapshot, proxy, &specs.client, has_cluster, &mut warnings);
    out.warnings = warnings;
    out
}

/// The tracing of a sidecar's inbound connection managers, with the warnings of both sides:
/// the inbound translation is the one that reports a sidecar's.
pub fn for_inbound(
    snapshot: &Snapshot,
    proxy: &Proxy,
    has_cluster: &dyn Fn(&Service, u16) -> bool,
) -> ProxyTracing {
    let specs = telemetry::resolve(snapshot, proxy);
    let mut warnings = specs.warnings;
    side(snapshot, proxy, &specs.client, has_cluster, &mut warnings);
    let mut server = Vec::new();
    let mut out = side(snapshot, proxy, &specs.server, has_cluster, &mut server);
    for warning in server {
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }
    out.warnings = warnings;
    out
}

/// The tracing `spec` gives one side, its warnings added to `warnings`.
fn side(
    snapshot: &Snapshot,
    proxy: &Proxy,
    spec: &TracingSpec,
    has_cluster: &dyn Fn(&Service, u16) -> bool,
    warnings: &mut Vec<String>,
) -> ProxyTracing {
    let mesh = snapshot.mesh();
    let mut out = ProxyTracing::default();
    let legacy = mesh.default_config.tracing.as_ref();
    if enabled(mesh) {
        let names = &mesh.default_providers.tracing;
        if names.len() > 1 {
            warnings.push(format!(
                "defaultProviders.tracing names {} providers; only the first, {:?}, is used, as in Istio",
                names.len(),
                names[0]
            ));
        }
        let sampling = legacy.map_or(0.0, |t| t.sampling);
        if sampling < 0.0 && spec.random_sampling.is_none() {
            warnings.push(format!(
                "defaultConfig.tracing.sampling {sampling} is not a percentage; 1% is used"
            ));
        }
        for field in legacy.iter().flat_map(|t| t.other.keys()) {
            warnings.push(format!(
                "defaultConfig.tracing.{field} has no effect: spans go to the provider of defaultProviders.tracing"
            ));
        }
    }
    if spec.disabled {
        return out;
    }
    let Some(name) = &spec.provider else {
        if let Some(origin) = &spec.origin {
            warnings.push(format!(
                "{origin}: no tracing provider applies (no Telemetry entry names one, and \
                 defaultProviders.tracing names none or enableTracing is off); tracing is off"
            ));
        }
        return out;
    };
    let (otel, config, collector) = match exporter(snapshot, proxy, name, has_cluster) {
        Ok(exporter) => exporter,
        Err(why) => {
            warnings.push(format!("tracing provider {name:?}: {why}; tracing is off"));
            return out;
        }
    };
    let mut tracing = hcm_tracing(mesh, proxy, spec, otel, config);
    if let Some(legacy) = legacy
        && tracing.max_path_tag_length.is_none()
        && legacy.max_path_tag_length != 0
    {
        tracing.max_path_tag_length = Some(UInt32Value {
            value: legacy.max_path_tag_length,
        });
    }
    // A Telemetry's tags replace the mesh config's, as in Istio.
    if let Some((origin, tags)) = &spec.custom_tags {
        for (name, tag) in tags {
            match telemetry_tag(name, tag) {
                Ok(tag) => tracing.custom_tags.push(tag),
                Err(why) => warnings.push(format!(
                    "{origin}.customTags.{name}: {why}; the tag is left out"
                )),
            }
        }
    } else if let Some(legacy) = legacy {
        for (name, tag) in &legacy.custom_tags {
            match custom_tag(name, tag) {
                Ok(tag) => tracing.custom_tags.push(tag),
                Err(why) => warnings.push(format!(
                    "defaultConfig.tracing.customTags.{name}: {why}; the tag is left out"
                )),
            }
        }
    }
    // Istio sorts every tag by name.
    tracing.custom_tags.sort_by(|a, b| a.tag.cmp(&b.tag));
    if let Some(origin) = &spec.request_id_off {
        warnings.push(format!(
            "{origin}.useRequestIdForTraceSampling: false is not supported: mesh-proxy samples \
             by the request id, as Envoy does by default; requests are sampled by it still"
        ));
    }
    out.tracing = Some(tracing);
    out.collector = Some(collector);
    out
}

/// The connection managers' `tracing`, as Istio fills it for a provider: every span sampled
/// once started (client and overall 100%), `random_sampling` from the Telemetry or else
/// `defaultConfig`, the provider's `maxTagLength`, Istio's identity tags unless the Telemetry
/// turns them off, and for gateways a span per upstream request.
fn hcm_tracing(
    mesh: &MeshConfig,
    proxy: &Proxy,
    spec: &TracingSpec,
    otel: &OpenTelemetryProvider,
    config: OpenTelemetryConfig,
) -> Tracing {
    let percent = |value: f64| Some(Percent { value });
    let sampling = spec
        .random_sampling
        .unwrap_or_else(|| mesh.default_config.sampling());
    Tracing {
        client_sampling: percent(100.0),
        random_sampling: percent(sampling),
        overall_sampling: percent(100.0),
        max_path_tag_length: (otel.max_tag_length != 0).then_some(UInt32Value {
            value: otel.max_tag_length,
        }),
        custom_tags: if spec.istio_tags {
            istio_tags(mesh, proxy)
        } else {
            Vec::new()
        },
        provider: Some(Http {
            name: OPENTELEMETRY_TRACER.to_string(),
            config_type: Some(ConfigType::TypedConfig(pack_any(config))),
        }),
        spawn_upstream_span: (proxy.kind == ProxyKind::Router).then_some(BoolValue { value: true }),
        ..Tracing::default()
    }
}

#[cfg(test)]
mod tests;
