//! How Istio names gateways and their hosts: which proxies a Gateway selects, the
//! `<namespace>/<name>` a VirtualService's `gateways` entry stands for, and which hosts of a
//! server a VirtualService may bind to.

use std::collections::BTreeMap;

use crate::model::host_matches;

/// The name that binds a VirtualService to the sidecars rather than to a Gateway.
pub const MESH: &str = "mesh";

/// Whom routes are built for. A VirtualService `match` that lists `gateways` applies only to
/// the proxies it lists; one that lists none applies to all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Sidecars: Istio's `mesh` gateway.
    Mesh,
    /// The proxies of one Gateway, named `<namespace>/<name>`.
    Gateway(&'a str),
}

// === impl Scope ===

impl Scope<'_> {
    /// Whether a `match` of a VirtualService in `namespace` that lists `gateways` applies.
    pub fn admits(self, gateways: &[String], namespace: &str) -> bool {
        if gateways.is_empty() {
            return true;
        }
        let name = match self {
            Scope::Mesh => MESH,
            Scope::Gateway(name) => name,
        };
        gateways
            .iter()
            .any(|g| resolve_gateway_name(g, namespace) == name)
    }
}

/// The `<namespace>/<name>` a `gateways` entry of a resource in `namespace` stands for, as
/// Istio reads it: `mesh` stays `mesh`, a short name is a Gateway of `namespace`, `./name` too,
/// and the legacy `name.namespace[.svc.cluster.local]` form names a Gateway of that namespace.
pub fn resolve_gateway_name(name: &str, namespace: &str) -> String {
    if name == MESH {
        return name.to_string();
    }
    match name.split_once('/') {
        Some((".", short)) => format!("{namespace}/{short}"),
        Some(_) => name.to_string(),
        None => match name.split_once('.') {
            None => format!("{namespace}/{name}"),
            Some((short, rest)) => {
                let gateway_namespace = rest.split('.').next().unwrap_or(rest);
                format!("{gateway_namespace}/{short}")
            }
        },
    }
}

/// Whether a Gateway's `selector` picks a proxy of these labels: every label of the selector
/// must be the proxy's. An empty selector picks every gateway proxy, as in Istio.
pub fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The hosts of a server of a Gateway in `gateway_namespace` that a VirtualService in
/// `vs_namespace` may bind to, with their namespace part stripped: `ns/host` only for `ns`,
/// `./host` only for the Gateway's own namespace, `*/host` and `host` for any.
pub fn server_hosts<'a>(
    hosts: &'a [String],
    gateway_namespace: &str,
    vs_namespace: &str,
) -> Vec<&'a str> {
    hosts
        .iter()
        .filter_map(|entry| match entry.split_once('/') {
            None => Some(entry.as_str()),
            Some(("*", host)) => Some(host),
            Some((".", host)) => (gateway_namespace == vs_namespace).then_some(host),
            Some((namespace, host)) => (namespace == vs_namespace).then_some(host),
        })
        .collect()
}

/// The hosts both lists cover, each the narrower of the two that matched, in the order of
/// `server` then `other`, without repeats: server `*.example.com` and VirtualService
/// `api.example.com` give `api.example.com`, and so do server `api.example.com` and
/// VirtualService `*`.
pub fn intersect(server: &[&str], other: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in server {
        for o in other {
            let narrower = if host_matches(o, s) {
                *s
            } else if host_matches(s, o) {
                o.as_str()
            } else {
                continue;
            };
            if !out.iter().any(|h| h == narrower) {
                out.push(narrower.to_string());
            }
        }
    }
    out
}
