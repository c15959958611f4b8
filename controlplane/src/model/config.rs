//! The Istio resources of a snapshot: validated, ordered as Istio orders them, and each with
//! the namespaces it is exported to.

use std::{collections::BTreeMap, sync::Arc};

use mesh_common::{
    api::{Kind, Resource, ResourceKey},
    support,
    validate::{Finding, Severity, validate},
};

use super::{ExportTo, virtual_service};
use crate::mesh_config::MeshConfig;

/// One accepted resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub resource: Resource,
    /// Where it applies: its `exportTo` (or the mesh default for its kind); every namespace
    /// for kinds without `exportTo`.
    pub export_to: ExportTo,
}

/// The accepted resources by kind, and the rejected ones with the reasons.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IstioConfig {
    by_kind: BTreeMap<Kind, Vec<Arc<Config>>>,
    rejected: Vec<(ResourceKey, Vec<Finding>)>,
    warnings: Vec<(ResourceKey, Vec<Finding>)>,
    /// Every resource as checked on its own, which the next build keeps for those that did not
    /// change.
    checked: BTreeMap<ResourceKey, Checked>,
}

/// One resource checked on its own: validated, its unsupported fields reported, its `exportTo`
/// resolved — all that does not depend on the other resources.
#[derive(Clone, Debug, PartialEq)]
struct Checked {
    /// As read; a VirtualService before delegation is expanded into it.
    config: Arc<Config>,
    /// [`support::report`] and [`validate`]'s.
    findings: Vec<Finding>,
}

// === impl IstioConfig ===

impl IstioConfig {
    /// Validates every resource, with the warnings of [`support::report`] for the fields
    /// mesh.rs does not honour yet. One with an error is left out — using it would route traffic
    /// other than its author meant — and listed in [`IstioConfig::rejected`]; the others are
    /// kept in Istio's order: oldest first (by `creationTimestamp`; resources read from files
    /// have none and come first), then by namespace and name. That order decides which of two
    /// conflicting resources wins, so it must not depend on the order they arrived in.
    ///
    /// VirtualServices are then settled together: a root VirtualService's rules that delegate
    /// are replaced by the delegate's rules merged under them, and what cannot be followed, or
    /// a host that sidecars take from an older VirtualService, is added to the warnings.
    pub(super) fn build<'a>(
        resources: impl IntoIterator<Item = &'a Resource>,
        mesh: &MeshConfig,
    ) -> Self {
        Self::assemble(None, resources, mesh)
    }

    /// [`IstioConfig::build`] of `resources`, keeping what this config (built under the same
    /// `mesh`) checked of every resource that did not change: only a changed or new resource
    /// is validated and reported again, and an unchanged one keeps its `Arc`, so that the diff
    /// skips it by pointer. The VirtualServices are settled again together (delegation and
    /// host claims depend on all of them); one that settles as it did keeps its `Arc` too.
    /// Equal to a whole build.
    pub(super) fn next<'a>(
        &self,
        resources: impl IntoIterator<Item = &'a Resource>,
        mesh: &MeshConfig,
    ) -> Self {
        Self::assemble(Some(self), resources, mesh)
    }

    fn assemble<'a>(
        last: Option<&IstioConfig>,
        resources: impl IntoIterator<Item = &'a Resource>,
        mesh: &MeshConfig,
    ) -> Self {
        let checked: BTreeMap<ResourceKey, Checked> = resources
            .into_iter()
            .map(|resource| {
                let key = resource.key();
                let kept = last.and_then(|last| last.checked.get(&key));
                let checked = match kept {
                    Some(kept) if kept.config.resource == *resource => kept.clone(),
                    _ => Checked::new(resource, mesh),
                };
                (key, checked)
            })
            .collect();
        let mut config = IstioConfig::default();
        for (key, checked) in &checked {
            if checked
                .findings
                .iter()
                .any(|f| f.severity == Severity::Error)
            {
                config
                    .rejected
                    .push((key.clone(), checked.findings.clone()));
                continue;
            }
            if !checked.findings.is_empty() {
                config
                    .warnings
                    .push((key.clone(), checked.findings.clone()));
            }
            let entries = config.by_kind.entry(key.kind).or_default();
            entries.push(Arc::clone(&checked.config));
        }
        config.checked = checked;
        for entries in config.by_kind.values_mut() {
            entries.sort_by(|a, b| {
                let order = |c: &Config| {
                    (
                        c.resource.metadata().creation_timestamp.clone(),
                        c.resource.namespace().to_string(),
                        c.resource.name().to_string(),
                    )
                };
                order(a).cmp(&order(b))
            });
        }
        // Delegation and the hosts several VirtualServices claim need them all.
        if let Some(services) = config.by_kind.get_mut(&Kind::VirtualService) {
            let rejected = config.rejected.iter().map(|(key, _)| key.clone()).collect();
            for (key, finding) in virtual_service::settle(services, &rejected, &mesh.cluster_domain)
            {
                match config.warnings.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, findings)) => findings.push(finding),
                    None => config.warnings.push((key, vec![finding])),
                }
            }
            config.warnings.sort_by(|a, b| a.0.cmp(&b.0));
            if let Some(last) = last {
                keep_settled(
                    services,
                    &config.checked,
                    last.of_kind(Kind::VirtualService),
                );
            }
        }
        config
    }

    /// The accepted resources of one kind, in Istio's order.
    pub fn of_kind(&self, kind: Kind) -> &[Arc<Config>] {
        self.by_kind
            .get(&kind)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The accepted resources of one kind that apply to proxies in `namespace`.
    pub fn visible(&self, kind: Kind, namespace: &str) -> impl Iterator<Item = &Arc<Config>> {
        self.of_kind(kind)
            .iter()
            .filter(move |c| c.export_to.is_visible_from(namespace))
    }

    /// Resources left out, with every finding (errors and warnings), in key order.
    pub fn rejected(&self) -> &[(ResourceKey, Vec<Finding>)] {
        &self.rejected
    }

    /// Accepted resources that have warnings, in key order.
    pub fn warnings(&self) -> &[(ResourceKey, Vec<Finding>)] {
        &self.warnings
    }
}

// === impl Checked ===

impl Checked {
    fn new(resource: &Resource, mesh: &MeshConfig) -> Self {
        // Fields mesh.rs does not honour are warnings, never silently ignored.
        let mut findings = support::report(resource);
        findings.extend(validate(resource));
        let config = Config {
            resource: resource.clone(),
            export_to: export_to(resource, mesh),
        };
        Self {
            config: Arc::new(config),
            findings,
        }
    }
}

/// Gives each VirtualService that settling rewrote (a root with delegation expanded) the `Arc`
/// of `last`'s when it came out equal.
fn keep_settled(
    services: &mut [Arc<Config>],
    checked: &BTreeMap<ResourceKey, Checked>,
    last: &[Arc<Config>],
) {
    let mut last_by_key: Option<BTreeMap<ResourceKey, &Arc<Config>>> = None;
    for service in services.iter_mut() {
        let key = service.resource.key();
        if checked
            .get(&key)
            .is_some_and(|c| Arc::ptr_eq(&c.config, service))
        {
            continue;
        }
        let last_by_key =
            last_by_key.get_or_insert_with(|| last.iter().map(|c| (c.resource.key(), c)).collect());
        if let Some(old) = last_by_key.get(&key)
            && **old == *service
        {
            *service = Arc::clone(old);
        }
    }
}

fn export_to(resource: &Resource, mesh: &MeshConfig) -> ExportTo {
    let namespace = resource.namespace();
    match resource {
        Resource::VirtualService(vs) => ExportTo::resolve(
            &vs.spec.export_to,
            &mesh.default_virtual_service_export_to,
            namespace,
        ),
        Resource::DestinationRule(dr) => ExportTo::resolve(
            &dr.spec.export_to,
            &mesh.default_destination_rule_export_to,
            namespace,
        ),
        Resource::ServiceEntry(se) => ExportTo::resolve(
            &se.spec.export_to,
            &mesh.default_service_export_to,
            namespace,
        ),
        _ => ExportTo::All,
    }
}

#[cfg(test)]
mod tests;
