//! The Telemetry resources whose `tracing` applies to a proxy, merged as Istio's
//! `Telemetries.Tracing` merges them: the root namespace's namespace-wide Telemetry (mesh-wide),
//! then the proxy's namespace's, then the first of its namespace whose `selector` picks the
//! proxy. Each entry's fields override what came before, for the sides its `match.mode` names:
//! `CLIENT` (outbound connection managers, and gateways') and `SERVER` (inbound ones). Where no
//! entry names a provider, the mesh config's default provider traces.

use std::collections::BTreeMap;

use mesh_common::api::{CustomTag, Kind, Resource, TelemetrySpec, Tracing, WorkloadMode};

use super::{super::Proxy, enabled};
use crate::model::Snapshot;

/// What one side's connection managers trace with.
#[derive(Clone, Debug, PartialEq)]
pub struct TracingSpec {
    /// The name of the `extensionProviders` entry spans go to; none leaves tracing off.
    pub provider: Option<String>,
    /// `disableSpanReporting`.
    pub disabled: bool,
    /// `randomSamplingPercentage`; else the mesh config's sampling.
    pub random_sampling: Option<f64>,
    /// `customTags`, which replace the mesh config's, with the entry that set them.
    pub custom_tags: Option<(String, BTreeMap<String, CustomTag>)>,
    /// Where `useRequestIdForTraceSampling: false` was set, which mesh-proxy cannot honour.
    pub request_id_off: Option<String>,
    /// `enableIstioTags`.
    pub istio_tags: bool,
    /// Where the last entry that applied was written; none when no Telemetry applies.
    pub origin: Option<String>,
}

/// Both sides of a proxy, and what in the Telemetry resources could not be used.
#[derive(Clone, Debug, PartialEq)]
pub struct Specs {
    pub client: TracingSpec,
    pub server: TracingSpec,
    pub warnings: Vec<String>,
}

/// A Telemetry resource as this module reads it.
struct Applied<'a> {
    namespace: &'a str,
    name: &'a str,
    spec: &'a TelemetrySpec,
}

/// Both sides' tracing for `proxy`.
pub fn resolve(snapshot: &Snapshot, proxy: &Proxy) -> Specs {
    let mesh = snapshot.mesh();
    let base = TracingSpec {
        provider: enabled(mesh).then(|| mesh.default_providers.tracing[0].clone()),
        disabled: false,
        random_sampling: None,
        custom_tags: None,
        request_id_off: None,
        istio_tags: true,
        origin: None,
    };
    let mut specs = Specs {
        client: base.clone(),
        server: base,
        warnings: Vec::new(),
    };
    for applied in applicable(snapshot, proxy, &mut specs.warnings) {
        for (i, entry) in applied.spec.tracing.iter().enumerate() {
            let origin = format!(
                "Telemetry {}/{} spec.tracing[{i}]",
                applied.namespace, applied.name
            );
            merge(snapshot, &origin, entry, &mut specs);
        }
    }
    specs
}

/// Whether any Telemetry resource names a tracing provider: then proxies may trace whatever
/// the mesh config says.
pub fn names_a_provider(snapshot: &Snapshot) -> bool {
    telemetries(snapshot).any(|t| t.spec.tracing.iter().any(|e| !e.providers.is_empty()))
}

/// The Telemetry resources that apply to `proxy`, least specific first. The others that would
/// apply at a level already taken are named in `warnings`: as in Istio, one applies per level,
/// the oldest.
fn applicable<'a>(
    snapshot: &'a Snapshot,
    proxy: &Proxy,
    warnings: &mut Vec<String>,
) -> Vec<Applied<'a>> {
    let root = snapshot.mesh().root_namespace.as_str();
    let mut out = Vec::new();
    let mut first_of = |found: &mut dyn Iterator<Item = Applied<'a>>, level: &str| {
        let first = found.next()?;
        for other in found {
            warnings.push(format!(
                "Telemetry {}/{} is not used: Telemetry {}/{}, older, applies to the same \
                 {level}, and only one does, as in Istio",
                other.namespace, other.name, first.namespace, first.name
            ));
        }
        Some(first)
    };
    out.extend(first_of(
        &mut telemetries(snapshot).filter(|t| t.namespace == root && namespace_wide(t.spec)),
        "mesh",
    ));
    if proxy.namespace != root {
        out.extend(first_of(
            &mut telemetries(snapshot)
                .filter(|t| t.namespace == proxy.namespace && namespace_wide(t.spec)),
            "namespace",
        ));
    }
    out.extend(first_of(
        &mut telemetries(snapshot).filter(|t| {
            t.namespace == proxy.namespace
                && !namespace_wide(t.spec)
                && !targeted(t.spec)
                && t.spec
                    .selector
                    .as_ref()
                    .is_some_and(|s| selects(&s.match_labels, &proxy.labels))
        }),
        "workload",
    ));
    out
}

/// Whether every label of `selector` is one of `labels`.
fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The accepted Telemetry resources, oldest first.
fn telemetries(snapshot: &Snapshot) -> impl Iterator<Item = Applied<'_>> {
    let configs = snapshot.config().of_kind(Kind::Telemetry);
    configs.iter().filter_map(|config| match &config.resource {
        Resource::Telemetry(telemetry) => Some(Applied {
            namespace: config.resource.namespace(),
            name: config.resource.name(),
            spec: &telemetry.spec,
        }),
        _ => None,
    })
}

/// Attached to resources rather than workloads: mesh.rs serves no such target, and the support
/// table reports the field.
fn targeted(spec: &TelemetrySpec) -> bool {
    spec.target_ref.is_some() || !spec.target_refs.is_empty()
}

/// No selector (or one without labels) and no target: every workload of its namespace.
fn namespace_wide(spec: &TelemetrySpec) -> bool {
    !targeted(spec)
        && spec
            .selector
            .as_ref()
            .is_none_or(|s| s.match_labels.is_empty())
}

/// Applies one entry's fields to the sides it matches.
fn merge(snapshot: &Snapshot, origin: &str, entry: &Tracing, specs: &mut Specs) {
    let mode = entry
        .match_
        .as_ref()
        .and_then(|m| m.mode)
        .unwrap_or_default();
    // Istio uses the first name the mesh config defines; the others are skipped.
    let mut provider = None;
    for (i, reference) in entry.providers.iter().enumerate() {
        let known = snapshot
            .mesh()
            .extension_providers
            .iter()
            .any(|p| p.name == reference.name);
        if !known {
            specs.warnings.push(format!(
                "{origin}.providers[{i}]: no extensionProviders entry of the mesh config is \
                 named {:?}; it is skipped, as in Istio",
                reference.name
            ));
        } else if provider.is_none() {
            provider = Some(reference.name.clone());
        }
    }
    let sides: &mut [&mut TracingSpec] = match mode {
        WorkloadMode::ClientAndServer => &mut [&mut specs.client, &mut specs.server],
        WorkloadMode::Client => &mut [&mut specs.client],
        WorkloadMode::Server => &mut [&mut specs.server],
    };
    for side in sides.iter_mut() {
        side.origin = Some(origin.to_string());
        if let Some(name) = &provider {
            side.provider = Some(name.clone());
        }
        if let Some(disabled) = entry.disable_span_reporting {
            side.disabled = disabled;
        }
        if !entry.custom_tags.is_empty() {
            side.custom_tags = Some((origin.to_string(), entry.custom_tags.clone()));
        }
        if let Some(percent) = entry.random_sampling_percentage {
            side.random_sampling = Some(percent);
        }
        if let Some(by_id) = entry.use_request_id_for_trace_sampling {
            side.request_id_off = (!by_id).then(|| origin.to_string());
        }
        if let Some(istio_tags) = entry.enable_istio_tags {
            side.istio_tags = istio_tags;
        }
    }
}

#[cfg(test)]
mod tests;
