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
        let mut config = IstioConfig::default();
        for resource in resources {
            // Fields mesh.rs does not honour are warnings, never silently ignored.
            let mut findings = support::report(resource);
            findings.extend(validate(resource));
            let key = resource.key();
            if findings.iter().any(|f| f.severity == Severity::Error) {
                config.rejected.push((key, findings));
                continue;
            }
            if !findings.is_empty() {
                config.warnings.push((key, findings));
            }
            let export_to = export_to(resource, mesh);
            config
                .by_kind
                .entry(resource.kind())
                .or_default()
                .push(Arc::new(Config {
                    resource: resource.clone(),
                    export_to,
                }));
        }
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
