//! Which DestinationRule applies to a service, and the traffic policy it gives one port of one
//! subset. Istio's precedence lives here and nowhere else.

use std::{collections::BTreeMap, sync::Arc};

use mesh_common::api::{
    ClientTlsSettings, ConnectionPoolSettings, Kind, LoadBalancerSettings, OutlierDetection,
    Resource, Subset, TrafficPolicy,
};

use crate::model::{Config, Service, Snapshot, host_matches};

/// The parts of a traffic policy translation acts on, once every level is merged: the load
/// balancer, the connection pool, outlier detection and the TLS the proxy originates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    pub load_balancer: Option<LoadBalancerSettings>,
    pub connection_pool: Option<ConnectionPoolSettings>,
    pub outlier_detection: Option<OutlierDetection>,
    pub tls: Option<ClientTlsSettings>,
}

/// The DestinationRule a workload (a sidecar or a gateway) in `namespace` with `labels` uses
/// for `service`, as Istio picks it: among the rules visible to the proxy (`exportTo`) whose
/// host covers the service, one in the proxy's namespace, else one in the service's namespace,
/// else one in the root namespace — rules in other namespaces never apply. Within a namespace
/// the most specific host wins (the exact host, else the longest wildcard), then Istio's config
/// order (oldest first).
///
/// A rule with a `workloadSelector` applies only to the workloads of its own namespace whose
/// labels include the selector's (selectors never cross namespaces, the root namespace's
/// included), and there wins over the rules without one for the same host, as Istio's sidecar
/// scope prefers it. A selector that does not match leaves its rule out.
pub fn destination_rule_for<'a>(
    snapshot: &'a Snapshot,
    namespace: &'a str,
    labels: &BTreeMap<String, String>,
    service: &Service,
) -> Option<&'a Arc<Config>> {
    let rank = |config: &Config| {
        let Resource::DestinationRule(rule) = &config.resource else {
            return None;
        };
        let ns = config.resource.namespace();
        let selected = match &rule.spec.workload_selector {
            None => 1,
            Some(selector) => {
                let matches = selector
                    .match_labels
                    .iter()
                    .all(|(key, value)| labels.get(key) == Some(value));
                if ns != namespace || !matches {
                    return None;
                }
                0
            }
        };
        let scope = if ns == namespace {
            0
        } else if ns == service.namespace {
            1
        } else if ns == snapshot.mesh().root_namespace {
            2
        } else {
            return None;
        };
        let host = snapshot.resolve_host(&rule.spec.host, ns);
        if !host_matches(&host, &service.hostname) {
            return None;
        }
        // An exact host ranks first; then a longer wildcard covers fewer hosts.
        let specificity = if host.eq_ignore_ascii_case(&service.hostname) {
            0
        } else {
            usize::MAX - host.len()
        };
        Some((scope, specificity, selected))
    };
    snapshot
        .visible_config(Kind::DestinationRule, namespace)
        .filter_map(|c| rank(c).map(|r| (r, c)))
        // `min_by_key` keeps the first of equals: the oldest rule.
        .min_by_key(|(r, _)| *r)
        .map(|(_, c)| c)
}

/// The policy of an outbound cluster (`outbound|<port>|<subset>|<host>`) of a registry
/// service, for a workload in `namespace` with `labels`: the policy its cluster is built with.
/// `None` for a name that is not such a cluster.
pub fn for_cluster(
    snapshot: &Snapshot,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    cluster: &str,
) -> Option<Policy> {
    let mut parts = cluster.splitn(4, '|');
    let (Some("outbound"), Some(port), Some(subset), Some(host)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let port: u16 = port.parse().ok()?;
    let service = snapshot.services().iter().find(|s| s.hostname == host)?;
    let rule = destination_rule_for(snapshot, namespace, labels, service);
    let subset = subsets(rule).iter().find(|s| s.name == subset);
    Some(policy(rule, subset, port))
}

/// The subsets of a rule, empty for anything that is not a DestinationRule.
pub fn subsets(rule: Option<&Arc<Config>>) -> &[Subset] {
    match rule.map(|c| &c.resource) {
        Some(Resource::DestinationRule(rule)) => &rule.spec.subsets,
        _ => &[],
    }
}

/// The policy for `port` of `subset` (`None`: the whole service), as Istio merges it: the
/// rule's `portLevelSettings` entry for the port replaces the rule's policy whole (port-level
/// settings do not inherit: what they leave unset takes its default); the subset's settings then
/// replace that one by one, and the subset's own entry for the port replaces everything. So a
/// subset beats a port, and a port beats the rule.
pub fn policy(rule: Option<&Arc<Config>>, subset: Option<&Subset>, port: u16) -> Policy {
    let top = match rule.map(|c| &c.resource) {
        Some(Resource::DestinationRule(rule)) => rule.spec.traffic_policy.as_ref(),
        _ => None,
    };
    let own = subset.and_then(|s| s.traffic_policy.as_ref());
    let at_port = |policy: &TrafficPolicy| {
        let level = policy
            .port_level_settings
            .iter()
            .find(|p| p.port.as_ref().is_some_and(|s| s.number == u32::from(port)))?;
        Some(Policy {
            load_balancer: level.load_balancer.clone(),
            connection_pool: level.connection_pool.clone(),
            outlier_detection: level.outlier_detection.clone(),
            tls: level.tls.clone(),
        })
    };
    let whole = |policy: &TrafficPolicy| Policy {
        load_balancer: policy.load_balancer.clone(),
        connection_pool: policy.connection_pool.clone(),
        outlier_detection: policy.outlier_detection.clone(),
        tls: policy.tls.clone(),
    };
    if let Some(level) = own.and_then(at_port) {
        return level;
    }
    let base = top
        .map(|top| at_port(top).unwrap_or_else(|| whole(top)))
        .unwrap_or_default();
    let Some(own) = own else {
        return base;
    };
    Policy {
        load_balancer: own.load_balancer.clone().or(base.load_balancer),
        connection_pool: own.connection_pool.clone().or(base.connection_pool),
        outlier_detection: own.outlier_detection.clone().or(base.outlier_detection),
        tls: own.tls.clone().or(base.tls),
    }
}

#[cfg(test)]
mod tests;
