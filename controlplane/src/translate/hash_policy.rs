//! Session affinity on routes: a DestinationRule's `loadBalancer.consistentHash` key becomes a
//! `hash_policy` on every route action that sends to one of its clusters, as Istio does it —
//! one entry per destination whose policy hashes, in destination order (a weighted route with
//! two hashing destinations carries two), weight-0 destinations of a split left out.
//!
//! The cluster itself gets `RING_HASH` or `MAGLEV` in `cluster.rs`. A `httpCookie`'s `ttl`
//! and `attributes` shape the cookie the proxy generates for a request that has none.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::route::v3::{
    Route,
    route::Action,
    route_action::{
        ClusterSpecifier, HashPolicy,
        hash_policy::{
            ConnectionProperties, Cookie, CookieAttribute, Header, PolicySpecifier, QueryParameter,
        },
    },
};
use mesh_common::api::ConsistentHashLb;

use super::{duration, policy};
use crate::model::Snapshot;

/// Adds the hash policies of the clusters each route of `routes` sends to, for a workload in
/// `namespace` with `labels`, whose DestinationRules apply (see
/// [`policy::destination_rule_for`]).
pub fn apply_for(
    snapshot: &Snapshot,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    routes: &mut [Route],
) {
    for route in routes {
        let Some(Action::Route(action)) = &mut route.action else {
            continue;
        };
        let clusters: Vec<&str> = match &action.cluster_specifier {
            Some(ClusterSpecifier::Cluster(name)) => vec![name],
            Some(ClusterSpecifier::WeightedClusters(split)) => split
                .clusters
                .iter()
                .filter(|c| c.weight.as_ref().is_none_or(|w| w.value > 0))
                .map(|c| c.name.as_str())
                .collect(),
            _ => continue,
        };
        let policies: Vec<HashPolicy> = clusters
            .into_iter()
            .filter_map(|cluster| consistent_hash(snapshot, namespace, labels, cluster))
            .filter_map(|hash| hash_policy(&hash))
            .collect();
        action.hash_policy.extend(policies);
    }
}

/// The consistent hash of an outbound cluster under the DestinationRule the workload uses.
fn consistent_hash(
    snapshot: &Snapshot,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    cluster: &str,
) -> Option<ConsistentHashLb> {
    policy::for_cluster(snapshot, namespace, labels, cluster)?
        .load_balancer?
        .consistent_hash
}

/// Istio's `consistentHashToHashPolicy`; `None` for a hash with no key (validation reports it).
/// A cookie's `ttl` (when set) and `attributes` (`name`, `value`) go as they are.
fn hash_policy(hash: &ConsistentHashLb) -> Option<HashPolicy> {
    let specifier = if let Some(name) = &hash.http_header_name {
        PolicySpecifier::Header(Header {
            header_name: name.clone(),
            regex_rewrite: None,
        })
    } else if let Some(cookie) = &hash.http_cookie {
        PolicySpecifier::Cookie(Cookie {
            name: cookie.name.clone(),
            path: cookie.path.clone(),
            // A zero TTL is kept: Envoy then generates a session cookie.
            ttl: cookie
                .ttl
                .as_ref()
                .and_then(|t| t.parse().ok())
                .map(duration),
            attributes: cookie
                .attributes
                .iter()
                .map(|a| CookieAttribute {
                    name: a.name.clone(),
                    value: a.value.clone(),
                })
                .collect(),
        })
    } else if hash.use_source_ip == Some(true) {
        PolicySpecifier::ConnectionProperties(ConnectionProperties { source_ip: true })
    } else if let Some(name) = &hash.http_query_parameter_name {
        PolicySpecifier::QueryParameter(QueryParameter { name: name.clone() })
    } else {
        return None;
    };
    Some(HashPolicy {
        policy_specifier: Some(specifier),
        terminal: false,
    })
}

#[cfg(test)]
mod tests;
