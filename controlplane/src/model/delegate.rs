//! VirtualService delegation, as Istio merges it: a rule of a root VirtualService (one with
//! `hosts`) that names a `delegate` is replaced by the rules of that VirtualService (one
//! without `hosts`), each under the root rule's match. Only one level: a delegate cannot
//! delegate again (validation refuses it).
//!
//! A delegate rule's matches must each be within one of the root rule's matches (Istio's
//! "subset"): its `uri`, `scheme`, `method`, `authority`, headers and query parameters
//! narrow the root's (an exact value equal to the root's exact value or under the root's
//! prefix), its `port`, `sourceNamespace`, `sourceLabels` and `gateways` agree with the
//! root's. The merged match takes what the delegate leaves unset from the root's, and the
//! merged rule takes the root rule's `rewrite`, `timeout`, `retries`, `fault`, mirrors,
//! `corsPolicy` and `headers` where the delegate's sets none. A rule that conflicts is left
//! out, and reported.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
};

use mesh_common::{
    api::{HttpMatchRequest, HttpRoute, Resource, ResourceKey, StringMatch, StringPattern},
    path::FieldPath,
    validate::Finding,
};

use super::{Config, ExportTo};

/// A VirtualService a root may name, as the merge needs it.
struct Target {
    /// A VirtualService with hosts is not a delegate.
    has_hosts: bool,
    export_to: ExportTo,
    http: Vec<HttpRoute>,
}

/// Replaces the `http` rules of every root VirtualService with its rules, delegations
/// expanded; `rejected` names the resources validation left out, so that a delegation to one
/// of them says why it cannot be followed.
pub(super) fn expand(
    services: &mut [Arc<Config>],
    rejected: &BTreeSet<ResourceKey>,
) -> Vec<(ResourceKey, Finding)> {
    let targets: BTreeMap<(String, String), Target> = services
        .iter()
        .filter_map(|config| match &config.resource {
            Resource::VirtualService(vs) => Some((
                (
                    config.resource.namespace().to_string(),
                    config.resource.name().to_string(),
                ),
                Target {
                    has_hosts: !vs.spec.hosts.is_empty(),
                    export_to: config.export_to.clone(),
                    // Only delegates' rules are merged: a root's are never read here.
                    http: if vs.spec.hosts.is_empty() {
                        vs.spec.http.clone()
                    } else {
                        Vec::new()
                    },
                },
            )),
            _ => None,
        })
        .collect();
    let mut findings = Vec::new();
    for config in services.iter_mut() {
        let Resource::VirtualService(vs) = &config.resource else {
            continue;
        };
        if vs.spec.hosts.is_empty() || vs.spec.http.iter().all(|r| r.delegate.is_none()) {
            continue;
        }
        let root = config.resource.key();
        let mut merged = Vec::new();
        for (i, route) in vs.spec.http.iter().enumerate() {
            let Some(delegate) = &route.delegate else {
                merged.push(route.clone());
                continue;
            };
            let namespace = if delegate.namespace.is_empty() {
                root.namespace.clone()
            } else {
                delegate.namespace.clone()
            };
            let at = FieldPath::root()
                .field("spec")
                .field("http")
                .index(i)
                .field("delegate");
            let name = format!("{namespace}/{}", delegate.name);
            let target = targets.get(&(namespace.clone(), delegate.name.clone()));
            let problem = match target {
                None if rejected.contains(&ResourceKey {
                    kind: root.kind,
                    namespace: namespace.clone(),
                    name: delegate.name.clone(),
                }) =>
                {
                    Some(format!(
                        "the delegate VirtualService {name} was rejected (see its errors)"
                    ))
                }
                None => Some(format!("the delegate VirtualService {name} does not exist")),
                Some(t) if t.has_hosts => Some(format!(
                    "VirtualService {name} has hosts, so it is not a delegate: delegate to a VirtualService without hosts"
                )),
                Some(t) if !t.export_to.is_visible_from(&root.namespace) => Some(format!(
                    "the delegate VirtualService {name} is not exported to namespace {}: add it to the delegate's exportTo",
                    root.namespace
                )),
                Some(_) => None,
            };
            if let Some(problem) = problem {
                findings.push((
                    root.clone(),
                    Finding::warning(
                        at,
                        format!("{problem}; until then the rule is left out and its requests go on to the rules after it"),
                    ),
                ));
                continue;
            }
            let Some(target) = target else { continue };
            for (j, sub) in target.http.iter().enumerate() {
                match merge_route(route, sub) {
                    Some(route) => merged.push(route),
                    None => findings.push((
                        ResourceKey {
                            kind: root.kind,
                            namespace: namespace.clone(),
                            name: delegate.name.clone(),
                        },
                        Finding::warning(
                            FieldPath::root().field("spec").field("http").index(j).field("match"),
                            format!(
                                "not within the match of VirtualService {}/{} spec.http[{i}], which delegates here: a delegate's match must narrow its root's; the rule is left out of {}/{}",
                                root.namespace, root.name, root.namespace, root.name
                            ),
                        ),
                    )),
                }
            }
        }
        let mut expanded = Config::clone(&**config);
        if let Resource::VirtualService(vs) = &mut expanded.resource {
            vs.spec.http = merged;
        }
        *config = Arc::new(expanded);
    }
    findings
}

/// A delegate rule under its root rule: `None` when its matches conflict with the root's.
fn merge_route(root: &HttpRoute, sub: &HttpRoute) -> Option<HttpRoute> {
    let mut out = sub.clone();
    out.matches = merge_matches(&root.matches, &sub.matches)?;
    out.name = joined(&root.name, &sub.name);
    out.delegate = None;
    fn inherit<T: Clone>(own: &mut Option<T>, root: &Option<T>) {
        if own.is_none() {
            own.clone_from(root);
        }
    }
    inherit(&mut out.rewrite, &root.rewrite);
    inherit(&mut out.timeout, &root.timeout);
    inherit(&mut out.retries, &root.retries);
    inherit(&mut out.fault, &root.fault);
    inherit(&mut out.mirror, &root.mirror);
    inherit(&mut out.mirror_percent, &root.mirror_percent);
    inherit(&mut out.mirror_percentage, &root.mirror_percentage);
    inherit(&mut out.cors_policy, &root.cors_policy);
    inherit(&mut out.headers, &root.headers);
    if out.mirrors.is_empty() {
        out.mirrors.clone_from(&root.mirrors);
    }
    Some(out)
}

/// Each delegate match merged with every root match it does not conflict with; `None` when a
/// delegate match fits no root match. No matches on either side take the other side's.
fn merge_matches(
    root: &[HttpMatchRequest],
    sub: &[HttpMatchRequest],
) -> Option<Vec<HttpMatchRequest>> {
    if root.is_empty() {
        return Some(sub.to_vec());
    }
    if sub.is_empty() {
        return Some(root.to_vec());
    }
    let mut out = Vec::new();
    for leaf in sub {
        let before = out.len();
        out.extend(
            root.iter()
                .filter(|r| !conflicts(r, leaf))
                .map(|r| merge_match(r, leaf)),
        );
        if out.len() == before {
            return None;
        }
    }
    Some(out)
}

fn merge_match(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> HttpMatchRequest {
    let mut out = leaf.clone();
    out.name = joined(&root.name, &leaf.name);
    for (own, root) in [
        (&mut out.uri, &root.uri),
        (&mut out.scheme, &root.scheme),
        (&mut out.method, &root.method),
        (&mut out.authority, &root.authority),
    ] {
        if own.is_none() {
            own.clone_from(root);
        }
    }
    // The delegate's entries win where both name one key.
    for (own, root) in [
        (&mut out.headers, &root.headers),
        (&mut out.without_headers, &root.without_headers),
        (&mut out.query_params, &root.query_params),
    ] {
        for (key, value) in root {
            own.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
    for (key, value) in &root.source_labels {
        out.source_labels
            .entry(key.clone())
            .or_insert_with(|| value.clone());
    }
    out.port = out.port.or(root.port);
    if out.source_namespace.is_empty() {
        out.source_namespace.clone_from(&root.source_namespace);
    }
    if out.gateways.is_empty() {
        out.gateways.clone_from(&root.gateways);
    }
    if out.stat_prefix.is_empty() {
        out.stat_prefix.clone_from(&root.stat_prefix);
    }
    out
}

/// Istio's `hasConflict`: whether `leaf` asks for something outside `root`.
fn conflicts(root: &HttpMatchRequest, leaf: &HttpMatchRequest) -> bool {
    let strings = [
        (&root.uri, &leaf.uri),
        (&root.scheme, &leaf.scheme),
        (&root.method, &leaf.method),
        (&root.authority, &leaf.authority),
    ];
    if strings
        .into_iter()
        .any(|(r, l)| string_conflict(r.as_ref(), l.as_ref()))
    {
        return true;
    }
    let maps = [
        (&root.headers, &leaf.headers),
        (&root.without_headers, &leaf.without_headers),
        (&root.query_params, &leaf.query_params),
    ];
    if maps.into_iter().any(|(r, l)| {
        l.iter()
            .any(|(key, value)| string_conflict(r.get(key), Some(value)))
    }) {
        return true;
    }
    let ports_differ = matches!((root.port, leaf.port), (Some(r), Some(l)) if r != l);
    let namespace_differs =
        !root.source_namespace.is_empty() && leaf.source_namespace != root.source_namespace;
    let labels_differ = leaf
        .source_labels
        .iter()
        .any(|(key, value)| root.source_labels.get(key).is_some_and(|v| v != value));
    let gateways_outside = !root.gateways.is_empty()
        && !leaf.gateways.is_empty()
        && leaf.gateways.iter().any(|g| !root.gateways.contains(g));
    root.ignore_uri_case.unwrap_or(false) != leaf.ignore_uri_case.unwrap_or(false)
        || ports_differ
        || namespace_differs
        || labels_differ
        || gateways_outside
}

/// Whether `leaf` matches values `root` does not: no conflict when either is unset; an exact
/// value fits an equal exact value or a prefix it starts with, a prefix fits a shorter prefix
/// it starts with; anything else (a regex, a presence match) conflicts.
fn string_conflict(root: Option<&StringMatch>, leaf: Option<&StringMatch>) -> bool {
    let (Some(root), Some(leaf)) = (root, leaf) else {
        return false;
    };
    match (root.pattern(), leaf.pattern()) {
        (Ok(StringPattern::Exact(r)), Ok(StringPattern::Exact(l))) => r != l,
        (Ok(StringPattern::Prefix(r)), Ok(StringPattern::Exact(l) | StringPattern::Prefix(l))) => {
            !l.starts_with(r)
        }
        _ => true,
    }
}

/// Istio's name of a merged rule or match: `<root>-<delegate>`, or whichever is set.
fn joined(root: &str, delegate: &str) -> String {
    match (root.is_empty(), delegate.is_empty()) {
        (_, true) => root.to_string(),
        (true, false) => delegate.to_string(),
        (false, false) => format!("{root}-{delegate}"),
    }
}

#[cfg(test)]
mod tests;
