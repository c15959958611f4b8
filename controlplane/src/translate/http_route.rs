//! One VirtualService HTTP route as Envoy routes: one per `match` that applies to the proxy
//! and port (or one matching every request), with the destinations, timeout, retries, rewrite,
//! header edits and fault of the rule, or the redirect or direct response it answers with.

use std::collections::{BTreeMap, HashMap};

use envoy_types::pb::{
    envoy::{
        config::route::v3::{
            HeaderMatcher, QueryParameterMatcher, Route, RouteAction, RouteMatch, WeightedCluster,
            header_matcher::HeaderMatchSpecifier,
            query_parameter_matcher::QueryParameterMatchSpecifier,
            route::Action,
            route_action::{ClusterSpecifier, HostRewriteSpecifier},
            route_match::PathSpecifier,
            weighted_cluster::{
                ClusterWeight, cluster_weight::HostRewriteSpecifier as CwHostRewrite,
            },
        },
        r#type::matcher::v3::{RegexMatcher, StringMatcher, string_matcher::MatchPattern},
    },
    google::protobuf::{Any, BoolValue, UInt32Value},
};
use envoy_types::util::pack_any;
use mesh_common::api::{
    Destination, HttpMatchRequest, HttpRetry, HttpRoute, HttpRouteDestination, StringMatch,
    StringPattern,
};

use super::{
    Proxy, cluster_name, duration, fault,
    gateway::Scope,
    http_action::{self, HeaderEdits},
    resilience,
    route::{DEFAULT_RETRY_ON, retry_policy},
};
use crate::model::Snapshot;

/// The proxy routes are built for, as the conditions of a `match` on the caller read it.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// Sidecars (`mesh`) or one Gateway.
    pub scope: Scope<'a>,
    /// For `sourceNamespace`.
    pub namespace: &'a str,
    /// For `sourceLabels`: a sidecar's (those its outbound key keeps, which include every key
    /// `sourceLabels` reads), or a gateway's own, as Istio reads them.
    pub labels: &'a BTreeMap<String, String>,
}

// === impl Caller ===

impl<'a> Caller<'a> {
    pub fn new(scope: Scope<'a>, proxy: &'a Proxy) -> Self {
        Self {
            scope,
            namespace: &proxy.namespace,
            labels: &proxy.labels,
        }
    }

    /// A proxy of `scope` in `namespace` with no labels.
    #[cfg(test)]
    pub fn unlabelled(scope: Scope<'a>, namespace: &'a str) -> Self {
        static NO_LABELS: BTreeMap<String, String> = BTreeMap::new();
        Self {
            scope,
            namespace,
            labels: &NO_LABELS,
        }
    }

    /// Whether a `match` of a VirtualService in `vs_namespace` applies to this caller, as
    /// Istio's `sourceMatchHTTP` decides: a match that lists `gateways` applies to the proxies
    /// it lists (its `sourceLabels` and `sourceNamespace` are then not read); one that lists
    /// none applies when the caller has every label of `sourceLabels` and runs in
    /// `sourceNamespace`, when set.
    pub fn admits(&self, m: &HttpMatchRequest, vs_namespace: &str) -> bool {
        if !m.gateways.is_empty() {
            return self.scope.admits(&m.gateways, vs_namespace);
        }
        m.source_labels
            .iter()
            .all(|(key, value)| self.labels.get(key) == Some(value))
            && (m.source_namespace.is_empty() || m.source_namespace == self.namespace)
    }
}

/// The Envoy routes of `route`, written in a VirtualService of `namespace`, on `port`, for
/// `caller`: a `match` applies when [`Caller::admits`] it and its `port`, when set, is `port`.
/// As in Istio, a `redirect` wins over a `directResponse`, which wins over the destinations.
/// A rule with none of them, or whose redirect or body Envoy cannot carry, gives no route, so
/// that its requests fall to the rules after it rather than to a wrong cluster; so does a
/// rule whose every match is for other proxies or other ports.
///
/// Each route is named after the rule, and a route of a named `match` `<rule>.<match>`, as
/// Istio names them; unnamed rules give unnamed routes.
pub fn routes(
    snapshot: &Snapshot,
    namespace: &str,
    port: u16,
    route: &HttpRoute,
    caller: Caller<'_>,
) -> Vec<Route> {
    let mut edits = HeaderEdits::new(route.headers.as_ref());
    let action = if let Some(redirect) = &route.redirect {
        http_action::redirect(redirect, port).map(Action::Redirect)
    } else if let Some(response) = &route.direct_response {
        http_action::direct_response(response).map(Action::DirectResponse)
    } else {
        route_action(snapshot, namespace, port, route, &mut edits).map(Action::Route)
    };
    let Some(action) = action else {
        return Vec::new();
    };
    let matches: Vec<(String, RouteMatch)> = if route.matches.is_empty() {
        vec![(route.name.clone(), prefix_match("/"))]
    } else {
        route
            .matches
            .iter()
            .filter(|m| caller.admits(m, namespace) && m.port.is_none_or(|p| p == u32::from(port)))
            .map(|m| (route_name(route, m), route_match(m)))
            .collect()
    };
    // Istio faults every route of a rule that has a `fault`, and gives each its `corsPolicy`,
    // redirects and direct responses included; the filters leave those alone.
    let typed_per_filter_config: HashMap<String, Any> = route
        .fault
        .as_ref()
        .and_then(fault::http_fault)
        .map(|f| (fault::FAULT_FILTER.to_string(), pack_any(f)))
        .into_iter()
        .chain(route.cors_policy.as_ref().map(|cors| {
            (
                http_action::CORS_FILTER.to_string(),
                pack_any(http_action::cors_policy(cors)),
            )
        }))
        .collect();
    matches
        .into_iter()
        .map(|(name, m)| Route {
            name,
            r#match: Some(m),
            action: Some(action.clone()),
            request_headers_to_add: edits.request_to_add.clone(),
            request_headers_to_remove: edits.request_to_remove.clone(),
            response_headers_to_add: edits.response_to_add.clone(),
            response_headers_to_remove: edits.response_to_remove.clone(),
            typed_per_filter_config: typed_per_filter_config.clone(),
            ..Route::default()
        })
        .collect()
}

/// The destinations of a rule, with its timeout, retries and rewrite. The header edits of a
/// lone destination join the rule's `edits`, as Istio merges them; those of weighted
/// destinations stay on their cluster.
fn route_action(
    snapshot: &Snapshot,
    namespace: &str,
    port: u16,
    route: &HttpRoute,
    edits: &mut HeaderEdits,
) -> Option<RouteAction> {
    let cluster =
        |d: &HttpRouteDestination| destination_cluster(snapshot, namespace, port, &d.destination);
    let mut authority = edits.authority.clone();
    let specifier = match route.route.as_slice() {
        [] => return None,
        [only] => {
            let own = HeaderEdits::new(only.headers.as_ref());
            authority = authority.or_else(|| own.authority.clone());
            edits.extend(own);
            ClusterSpecifier::Cluster(cluster(only))
        }
        many => ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: many.iter().map(|d| cluster_weight(cluster(d), d)).collect(),
            ..WeightedCluster::default()
        }),
    };
    let timeout = route
        .timeout
        .as_ref()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    let mut action = RouteAction {
        cluster_specifier: Some(specifier),
        timeout: Some(duration(timeout)),
        retry_policy: retries(route.retries.as_ref()),
        host_rewrite_specifier: authority.map(HostRewriteSpecifier::HostRewriteLiteral),
        request_mirror_policies: http_action::mirror_policies(route, |destination| {
            destination_cluster(snapshot, namespace, port, destination)
        }),
        ..RouteAction::default()
    };
    if let Some(rewrite) = &route.rewrite {
        http_action::rewrite(&mut action, rewrite);
    }
    Some(action)
}

fn cluster_weight(name: String, destination: &HttpRouteDestination) -> ClusterWeight {
    let edits = HeaderEdits::new(destination.headers.as_ref());
    ClusterWeight {
        name,
        weight: Some(UInt32Value {
            value: destination
                .weight
                .and_then(|w| u32::try_from(w).ok())
                .unwrap_or(0),
        }),
        request_headers_to_add: edits.request_to_add,
        request_headers_to_remove: edits.request_to_remove,
        response_headers_to_add: edits.response_to_add,
        response_headers_to_remove: edits.response_to_remove,
        host_rewrite_specifier: edits.authority.map(CwHostRewrite::HostRewriteLiteral),
        ..ClusterWeight::default()
    }
}

/// The cluster of a destination written in a resource of `namespace`, for traffic that came
/// in on `port`.
pub fn destination_cluster(
    snapshot: &Snapshot,
    namespace: &str,
    port: u16,
    destination: &Destination,
) -> String {
    let host = snapshot.resolve_host(&destination.host, namespace);
    let port = destination
        .port
        .as_ref()
        .and_then(|p| u16::try_from(p.number).ok())
        .or_else(|| only_port(snapshot, &host))
        .unwrap_or(port);
    cluster_name(port, &destination.subset, &host)
}

/// The port of a service that has one port: Istio's destination port when the route names none,
/// so that a gateway on 8080 reaches a service on 9080. Services of several ports take the
/// port the request came in on.
fn only_port(snapshot: &Snapshot, hostname: &str) -> Option<u16> {
    match snapshot
        .services()
        .iter()
        .find(|s| s.hostname == hostname)
        .map(|s| s.ports.as_slice())
    {
        Some([only]) => Some(only.number),
        _ => None,
    }
}

/// Istio's translation of `retries`: unset is two attempts on the default conditions;
/// `attempts: 0` turns retries off; status codes in `retryOn` become retriable codes; `backoff`
/// is the base interval between retries.
fn retries(
    retry: Option<&HttpRetry>,
) -> Option<envoy_types::pb::envoy::config::route::v3::RetryPolicy> {
    let Some(retry) = retry else {
        return Some(retry_policy(2, DEFAULT_RETRY_ON, vec![503]));
    };
    let attempts = u32::try_from(retry.attempts).ok().filter(|&a| a > 0)?;
    let (retry_on, codes) = if retry.retry_on.is_empty() {
        (DEFAULT_RETRY_ON.to_string(), vec![503])
    } else {
        let mut on = Vec::new();
        let mut codes = Vec::new();
        for part in retry
            .retry_on
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part.parse::<u32>() {
                Ok(code) => codes.push(code),
                Err(_) => on.push(part.to_string()),
            }
        }
        if !codes.is_empty() && !on.iter().any(|p| p == "retriable-status-codes") {
            on.push("retriable-status-codes".to_string());
        }
        (on.join(","), codes)
    };
    let mut policy = retry_policy(attempts, &retry_on, codes);
    policy.per_try_timeout = retry
        .per_try_timeout
        .as_ref()
        .and_then(|t| t.parse().ok())
        .map(duration);
    policy.retry_back_off = resilience::retry_back_off(retry.backoff.as_ref());
    Some(policy)
}

/// Istio's route name: the rule's, and `<rule>.<match>` for a named match.
fn route_name(route: &HttpRoute, m: &HttpMatchRequest) -> String {
    if m.name.is_empty() {
        route.name.clone()
    } else {
        format!("{}.{}", route.name, m.name)
    }
}

fn prefix_match(prefix: &str) -> RouteMatch {
    RouteMatch {
        path_specifier: Some(PathSpecifier::Prefix(prefix.to_string())),
        ..RouteMatch::default()
    }
}

fn route_match(m: &HttpMatchRequest) -> RouteMatch {
    let mut out = match m.uri.as_ref().and_then(|u| u.pattern().ok()) {
        Some(StringPattern::Exact(path)) => RouteMatch {
            path_specifier: Some(PathSpecifier::Path(path.to_string())),
            ..RouteMatch::default()
        },
        Some(StringPattern::Regex(regex)) => RouteMatch {
            path_specifier: Some(PathSpecifier::SafeRegex(regex_matcher(regex))),
            ..RouteMatch::default()
        },
        Some(StringPattern::Prefix(prefix)) => prefix_match(prefix),
        Some(StringPattern::Present) | None => prefix_match("/"),
    };
    if m.ignore_uri_case == Some(true) {
        out.case_sensitive = Some(BoolValue { value: false });
    }
    for (name, value) in &m.headers {
        out.headers.push(header_matcher(name, value, false));
    }
    for (name, value) in &m.without_headers {
        out.headers.push(header_matcher(name, value, true));
    }
    if let Some(method) = &m.method {
        out.headers.push(header_matcher(":method", method, false));
    }
    if let Some(authority) = &m.authority {
        out.headers
            .push(header_matcher(":authority", authority, false));
    }
    if let Some(scheme) = &m.scheme {
        out.headers.push(header_matcher(":scheme", scheme, false));
    }
    for (name, value) in &m.query_params {
        let specifier = match string_matcher(value) {
            Some(matcher) => QueryParameterMatchSpecifier::StringMatch(matcher),
            None => QueryParameterMatchSpecifier::PresentMatch(true),
        };
        out.query_parameters.push(QueryParameterMatcher {
            name: name.clone(),
            query_parameter_match_specifier: Some(specifier),
        });
    }
    out
}

fn header_matcher(name: &str, value: &StringMatch, invert: bool) -> HeaderMatcher {
    let specifier = match string_matcher(value) {
        Some(matcher) => HeaderMatchSpecifier::StringMatch(matcher),
        None => HeaderMatchSpecifier::PresentMatch(true),
    };
    HeaderMatcher {
        name: name.to_string(),
        header_match_specifier: Some(specifier),
        invert_match: invert,
        ..HeaderMatcher::default()
    }
}

/// `None` for `{}`, which asks only that the value be present.
pub(super) fn string_matcher(value: &StringMatch) -> Option<StringMatcher> {
    let pattern = match value.pattern().ok()? {
        StringPattern::Present => return None,
        StringPattern::Exact(v) => MatchPattern::Exact(v.to_string()),
        StringPattern::Prefix(v) => MatchPattern::Prefix(v.to_string()),
        StringPattern::Regex(v) => MatchPattern::SafeRegex(regex_matcher(v)),
    };
    Some(StringMatcher {
        match_pattern: Some(pattern),
        ..StringMatcher::default()
    })
}

fn regex_matcher(regex: &str) -> RegexMatcher {
    RegexMatcher {
        regex: regex.to_string(),
        ..RegexMatcher::default()
    }
}

#[cfg(test)]
mod tests;
