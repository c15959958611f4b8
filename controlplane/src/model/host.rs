//! Hostnames as Istio reads them in resources: short names completed with the resource's
//! namespace, and wildcard patterns matched against the registry's hosts.

/// The fully qualified name a host in a resource of `from_namespace` stands for, as Istio
/// completes it: a short name (`reviews`) is a Service of that namespace
/// (`reviews.<ns>.svc.<domain>`), `name.namespace.svc` gains the domain, and anything else —
/// a name with dots, a wildcard — is kept as written.
///
/// `reviews.prod` is kept too: without the registry it cannot be told apart from
/// `example.com`. [`super::Snapshot::resolve_host`] completes it when `prod` has such a
/// Service.
pub fn resolve_host(host: &str, from_namespace: &str, domain: &str) -> String {
    if is_wildcard(host) {
        return host.to_string();
    }
    let labels = host.split('.').count();
    if labels == 1 {
        format!("{host}.{from_namespace}.svc.{domain}")
    } else if labels == 3 && host.ends_with(".svc") {
        format!("{host}.{domain}")
    } else {
        host.to_string()
    }
}

/// True for `*` and `*.suffix`.
pub fn is_wildcard(host: &str) -> bool {
    host == "*" || host.starts_with("*.")
}

/// Whether `pattern` covers `host`: `*` covers every host, `*.example.com` covers every name
/// under `example.com` (at any depth, and narrower wildcards such as `*.api.example.com`) but
/// not `example.com` itself, and any other pattern covers only itself. DNS names ignore case.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == "*" || pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    match pattern.strip_prefix('*') {
        // `suffix` keeps its leading dot, so `*.example.com` does not cover `badexample.com`.
        Some(suffix) => {
            host.len() > suffix.len()
                && host
                    .get(host.len() - suffix.len()..)
                    .is_some_and(|end| end.eq_ignore_ascii_case(suffix))
        }
        None => false,
    }
}
