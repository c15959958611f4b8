//! One VirtualService HTTP route as Envoy routes: one per `match` (or one matching every
//! request), with the destinations, timeout and retries of the rule.

use envoy_types::pb::{
    envoy::{
        config::route::v3::{
            HeaderMatcher, QueryParameterMatcher, Route, RouteAction, RouteMatch, WeightedCluster,
            header_matcher::HeaderMatchSpecifier,
            query_parameter_matcher::QueryParameterMatchSpecifier, route::Action,
            route_action::ClusterSpecifier, route_match::PathSpecifier,
            weighted_cluster::ClusterWeight,
        },
        r#type::matcher::v3::{RegexMatcher, StringMatcher, string_matcher::MatchPattern},
    },
    google::protobuf::{BoolValue, UInt32Value},
};
use mesh_common::api::{
    HttpMatchRequest, HttpRetry, HttpRoute, HttpRouteDestination, StringMatch, StringPattern,
};

use super::{
    cluster_name, duration,
    route::{DEFAULT_RETRY_ON, retry_policy},
};
use crate::model::Snapshot;

/// The Envoy routes of `route`, written in a VirtualService of `namespace`, on `port`.
/// A rule without destinations (a redirect or a direct response, not translated yet) gives
/// none, so that its requests fall to the rules after it rather than to a wrong cluster.
pub fn routes(snapshot: &Snapshot, namespace: &str, port: u16, route: &HttpRoute) -> Vec<Route> {
    let Some(action) = route_action(snapshot, namespace, port, route) else {
        return Vec::new();
    };
    let matches: Vec<RouteMatch> = if route.matches.is_empty() {
        vec![prefix_match("/")]
    } else {
        route.matches.iter().map(route_match).collect()
    };
    matches
        .into_iter()
        .map(|m| Route {
            name: route.name.clone(),
            r#match: Some(m),
            action: Some(Action::Route(action.clone())),
            ..Route::default()
        })
        .collect()
}

fn route_action(
    snapshot: &Snapshot,
    namespace: &str,
    port: u16,
    route: &HttpRoute,
) -> Option<RouteAction> {
    let cluster = |d: &HttpRouteDestination| {
        let host = snapshot.resolve_host(&d.destination.host, namespace);
        let port = d
            .destination
            .port
            .as_ref()
            .and_then(|p| u16::try_from(p.number).ok())
            .unwrap_or(port);
        cluster_name(port, &d.destination.subset, &host)
    };
    let specifier = match route.route.as_slice() {
        [] => return None,
        [only] => ClusterSpecifier::Cluster(cluster(only)),
        many => ClusterSpecifier::WeightedClusters(WeightedCluster {
            clusters: many
                .iter()
                .map(|d| ClusterWeight {
                    name: cluster(d),
                    weight: Some(UInt32Value {
                        value: d.weight.and_then(|w| u32::try_from(w).ok()).unwrap_or(0),
                    }),
                    ..ClusterWeight::default()
                })
                .collect(),
            ..WeightedCluster::default()
        }),
    };
    let timeout = route
        .timeout
        .as_ref()
        .and_then(|t| t.parse().ok())
        .unwrap_or_default();
    Some(RouteAction {
        cluster_specifier: Some(specifier),
        timeout: Some(duration(timeout)),
        retry_policy: retries(route.retries.as_ref()),
        ..RouteAction::default()
    })
}

/// Istio's translation of `retries`: unset is two attempts on the default conditions;
/// `attempts: 0` turns retries off; status codes in `retryOn` become retriable codes.
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
    Some(policy)
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
fn string_matcher(value: &StringMatch) -> Option<StringMatcher> {
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
