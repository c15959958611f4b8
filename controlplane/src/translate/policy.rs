//! Which DestinationRule applies to a service, and the traffic policy it gives one port of one
//! subset. Istio's precedence lives here and nowhere else.

use std::sync::Arc;

use mesh_common::api::{
    ConnectionPoolSettings, Kind, LoadBalancerSettings, OutlierDetection, Resource, Subset,
    TrafficPolicy,
};

use crate::model::{Config, Service, Snapshot, host_matches};

/// The parts of a traffic policy translation acts on, once every level is merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    pub load_balancer: Option<LoadBalancerSettings>,
    pub connection_pool: Option<ConnectionPoolSettings>,
    pub outlier_detection: Option<OutlierDetection>,
}

/// The DestinationRule a proxy in `namespace` uses for `service`: among the visible rules whose
/// host matches, one in the proxy's namespace, else one in the service's namespace, else any;
/// an exact host beats a wildcard, and otherwise Istio's config order (oldest first) decides.
pub fn destination_rule<'a>(
    snapshot: &'a Snapshot,
    namespace: &'a str,
    service: &Service,
) -> Option<&'a Arc<Config>> {
    let rank = |config: &Config| {
        let Resource::DestinationRule(rule) = &config.resource else {
            return None;
        };
        let host = snapshot.resolve_host(&rule.spec.host, config.resource.namespace());
        if !host_matches(&host, &service.hostname) {
            return None;
        }
        let ns = config.resource.namespace();
        let scope = if ns == namespace {
            0
        } else if ns == service.namespace {
            1
        } else {
            2
        };
        Some((scope, usize::from(host != service.hostname)))
    };
    snapshot
        .visible_config(Kind::DestinationRule, namespace)
        .filter_map(|c| rank(c).map(|r| (r, c)))
        // `min_by_key` keeps the first of equals: the oldest rule.
        .min_by_key(|(r, _)| *r)
        .map(|(_, c)| c)
}

/// The subsets of a rule, empty for anything that is not a DestinationRule.
pub fn subsets(rule: Option<&Arc<Config>>) -> &[Subset] {
    match rule.map(|c| &c.resource) {
        Some(Resource::DestinationRule(rule)) => &rule.spec.subsets,
        _ => &[],
    }
}

/// The policy for `port` of `subset` (`None`: the whole service), as Istio merges it: the
/// subset's settings replace the rule's one by one; then the `portLevelSettings` entry for the
/// port (the subset's, else the rule's) replaces them all — port-level settings do not inherit,
/// what they leave unset takes its default.
pub fn policy(rule: Option<&Arc<Config>>, subset: Option<&Subset>, port: u16) -> Policy {
    let top = match rule.map(|c| &c.resource) {
        Some(Resource::DestinationRule(rule)) => rule.spec.traffic_policy.as_ref(),
        _ => None,
    };
    let own = subset.and_then(|s| s.traffic_policy.as_ref());
    let port_level = [own, top].into_iter().flatten().find_map(|policy| {
        policy
            .port_level_settings
            .iter()
            .find(|p| p.port.as_ref().is_some_and(|s| s.number == u32::from(port)))
    });
    if let Some(level) = port_level {
        return Policy {
            load_balancer: level.load_balancer.clone(),
            connection_pool: level.connection_pool.clone(),
            outlier_detection: level.outlier_detection.clone(),
        };
    }
    Policy {
        load_balancer: pick(own, top, |p| p.load_balancer.as_ref()),
        connection_pool: pick(own, top, |p| p.connection_pool.as_ref()),
        outlier_detection: pick(own, top, |p| p.outlier_detection.as_ref()),
    }
}

/// The subset's setting when it has one, else the rule's.
fn pick<T: Clone>(
    own: Option<&TrafficPolicy>,
    top: Option<&TrafficPolicy>,
    get: impl Fn(&TrafficPolicy) -> Option<&T>,
) -> Option<T> {
    own.and_then(&get).or_else(|| top.and_then(&get)).cloned()
}
