//! What the VirtualServices of a snapshot mean together, beyond each one's own validation:
//! delegation expanded into the root VirtualServices ([`super::delegate`]), and the hosts that
//! several VirtualServices bound to the sidecars claim, which sidecars do not merge.

use std::{collections::BTreeSet, sync::Arc};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use mesh_common::{
    api::{Resource, ResourceKey},
    path::FieldPath,
    validate::Finding,
};

use super::{Config, ExportTo, delegate, host_matches, resolve_host};

/// Istio's order of VirtualServices (its `sortConfigByCreationTime`): oldest first, then by
/// name, then by namespace. It decides which VirtualService of a host sidecars use, and the
/// order in which a gateway merges the routes of several.
pub fn istio_order(config: &Config) -> (Option<&Time>, &str, &str) {
    (
        config.resource.metadata().creation_timestamp.as_ref(),
        config.resource.name(),
        config.resource.namespace(),
    )
}

/// Expands delegation in the accepted VirtualServices and reports what cannot be used: a
/// delegation that cannot be followed, a delegate rule that conflicts with its root, a host that
/// an older VirtualService already routes for the sidecars. Each finding is a warning of the
/// resource it names; the resources stay in use, without the parts reported.
pub(super) fn settle(
    services: &mut [Arc<Config>],
    rejected: &BTreeSet<ResourceKey>,
    cluster_domain: &str,
) -> Vec<(ResourceKey, Finding)> {
    let mut findings = delegate::expand(services, rejected);
    findings.extend(mesh_host_conflicts(services, cluster_domain));
    findings
}

/// Sidecars use only the oldest VirtualService of a host (Istio merges VirtualServices for
/// gateways only): each later VirtualService bound to `mesh` with a host that overlaps an older
/// one's, where some namespace sees both, is told that its routes for it do not apply.
fn mesh_host_conflicts(
    services: &[Arc<Config>],
    cluster_domain: &str,
) -> Vec<(ResourceKey, Finding)> {
    let mut mesh: Vec<(&Config, Vec<String>)> = services
        .iter()
        .filter_map(|config| {
            let Resource::VirtualService(vs) = &config.resource else {
                return None;
            };
            let for_mesh =
                vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == "mesh");
            let namespace = config.resource.namespace();
            let hosts = vs
                .spec
                .hosts
                .iter()
                .map(|h| resolve_host(h, namespace, cluster_domain))
                .collect();
            for_mesh.then_some((config.as_ref(), hosts))
        })
        .collect();
    mesh.sort_by(|a, b| istio_order(a.0).cmp(&istio_order(b.0)));
    let mut findings = Vec::new();
    for (later, (config, hosts)) in mesh.iter().enumerate() {
        for (j, host) in hosts.iter().enumerate() {
            let older = mesh[..later].iter().find_map(|(older, older_hosts)| {
                let overlapping = older_hosts
                    .iter()
                    .find(|o| host_matches(o, host) || host_matches(host, o))?;
                overlaps(&older.export_to, &config.export_to).then_some((older, overlapping))
            });
            let Some((older, older_host)) = older else {
                continue;
            };
            let older = older.resource.key();
            findings.push((
                config.resource.key(),
                Finding::warning(
                    FieldPath::root().field("spec").field("hosts").index(j),
                    format!(
                        "host {host:?} is also routed for the sidecars (mesh) by VirtualService {}/{} ({older_host:?}), which is older: sidecars use only the oldest VirtualService of a host, so this one's routes for it do not apply to them; merge the two into one VirtualService (gateways merge them, sidecars do not)",
                        older.namespace, older.name
                    ),
                ),
            ));
        }
    }
    findings
}

/// Whether some namespace sees both.
fn overlaps(a: &ExportTo, b: &ExportTo) -> bool {
    match (a, b) {
        (ExportTo::All, ExportTo::All) => true,
        (ExportTo::All, ExportTo::Namespaces(some))
        | (ExportTo::Namespaces(some), ExportTo::All) => !some.is_empty(),
        (ExportTo::Namespaces(a), ExportTo::Namespaces(b)) => !a.is_disjoint(b),
    }
}

#[cfg(test)]
mod tests;
