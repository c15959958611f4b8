//! Rules that several kinds share: names and hosts, ports, durations, regexes, percentages,
//! addresses, `exportTo` and gateway references.
//!
//! The checks return the operator-facing message of what is wrong (and what to write instead), so
//! that each kind only decides where in the resource the problem is.

use std::{net::IpAddr, time};

use super::Finding;
use crate::{
    api::{Duration, StringMatch, StringPattern},
    path::FieldPath,
};

/// Envoy rejects regexes whose RE2 program is too large. Like Istio, we bound the length, which is
/// always smaller than the program size.
const MAX_REGEX_LEN: usize = 1024;

/// The findings gathered while walking one resource.
#[derive(Debug, Default)]
pub(super) struct Findings(Vec<Finding>);

// === impl Findings ===

impl Findings {
    pub(super) fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.0.push(Finding::error(path.clone(), message));
    }

    pub(super) fn warning(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.0.push(Finding::warning(path.clone(), message));
    }

    /// Records the error of a check, if it failed.
    pub(super) fn check<T>(&mut self, path: &FieldPath, result: Result<T, String>) {
        if let Err(message) = result {
            self.error(path, message);
        }
    }

    pub(super) fn into_vec(self) -> Vec<Finding> {
        self.0
    }
}

/// A DNS-1123 label, as Kubernetes names namespaces, ports and subsets: 1 to 63 lowercase letters,
/// digits or `-`, starting and ending with a letter or digit.
pub(super) fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}

/// A DNS-1123 subdomain, as Kubernetes names most objects: dot-separated labels.
pub(super) fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
}

/// A host as Istio's `hosts` fields take it: a short name (`reviews`), a fully qualified name
/// (optionally ending with a dot), or a wildcard as the whole first label (`*.example.com`, `*`).
pub(super) fn host(name: &str) -> Result<(), String> {
    host_name(name, true)
}

/// A host name without wildcards, as DNS resolves it.
pub(super) fn fqdn(name: &str) -> Result<(), String> {
    host_name(name, false)
}

fn host_name(name: &str, wildcard: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err(
            "host is empty: name a service, e.g. \"reviews\" or \"api.example.com\"".into(),
        );
    }
    if name.len() > 255 {
        return Err(format!("host {name:?} is longer than 255 characters"));
    }
    let labels: Vec<&str> = name.strip_suffix('.').unwrap_or(name).split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if *label == "*" && i == 0 && wildcard {
            continue;
        }
        if label.contains('*') {
            return Err(if wildcard {
                format!(
                    "host {name:?} is invalid: a wildcard must be the whole first label, as in \"*.example.com\""
                )
            } else {
                format!("host {name:?} cannot have a wildcard here: name one host")
            });
        }
        if !is_dns_label(label) {
            return Err(format!(
                "host {name:?} is invalid: label {label:?} must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit"
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "host {name:?} is invalid: its last label cannot be all digits (write an IP address where one is allowed, or a name)"
        ));
    }
    Ok(())
}

/// Whether `pattern` (a host, `*.suffix` or `*`) matches every name `host` matches.
pub(super) fn host_covers(pattern: &str, host: &str) -> bool {
    if pattern == host || pattern == "*" {
        return true;
    }
    match pattern.strip_prefix('*') {
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        None => false,
    }
}

/// A `namespace/dnsName` host of a Sidecar egress listener (`./*`, `istio-system/*`,
/// `*/api.example.com`), or of a Gateway server, where the namespace may be left out and the host
/// may be an IP address.
pub(super) fn namespaced_host(entry: &str, gateway: bool) -> Result<(), String> {
    let (namespace, name) = match entry.split_once('/') {
        Some((namespace, name)) => (Some(namespace), name),
        None if gateway => (None, entry),
        None => {
            return Err(format!(
                "host {entry:?} must be written namespace/dnsName: e.g. \"./{entry}\" (this namespace) or \"*/{entry}\" (any namespace)"
            ));
        }
    };
    if let Some(namespace) = namespace {
        let special = ["*", "."].contains(&namespace) || (namespace == "~" && !gateway);
        if !special && !is_dns_label(namespace) {
            return Err(format!(
                "host {entry:?} is invalid: namespace {namespace:?} must be \"*\", \".\" or a namespace name"
            ));
        }
    }
    if name == "*" || (gateway && is_ip(name)) {
        return Ok(());
    }
    if name.is_empty() {
        return Err(format!(
            "host {entry:?} has no host name: write e.g. \"*\" or \"bookinfo.example.com\" after the namespace"
        ));
    }
    if !name.contains('.') {
        return Err(format!(
            "host {entry:?} uses the short name {name:?}: write the full name, e.g. \"{name}.default.svc.cluster.local\""
        ));
    }
    host(name)
}

/// Names for a message: `a`, `a and b`, `a, b and c`.
pub(super) fn enumerate(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

pub(super) fn port(number: u32) -> Result<(), String> {
    if (1..=65535).contains(&number) {
        Ok(())
    } else {
        Err(format!("port {number} is out of range: use 1 to 65535"))
    }
}

/// A duration the proxy waits: at least a millisecond, in whole milliseconds, as Envoy and Istio
/// take them.
pub(super) fn duration(value: &Duration) -> Result<time::Duration, String> {
    let parsed = value.parse().map_err(|error| error.to_string())?;
    if parsed < time::Duration::from_millis(1) {
        return Err(format!(
            "duration {:?} is too short: use at least 1ms",
            value.0
        ));
    }
    // The text is read through an f64, so round to the microsecond before asking about precision.
    let micros = (parsed.as_nanos() + 500) / 1000;
    if !micros.is_multiple_of(1000) {
        return Err(format!(
            "duration {:?} is finer than a millisecond: round it to whole milliseconds",
            value.0
        ));
    }
    Ok(parsed)
}

/// A regex of a match or rewrite. Istio takes RE2 syntax, which the `regex` crate follows closely.
pub(super) fn regex(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("regex is empty: write a pattern (RE2 syntax)".into());
    }
    if pattern.len() > MAX_REGEX_LEN {
        return Err(format!(
            "regex is {} characters long: the proxy accepts at most {MAX_REGEX_LEN}",
            pattern.len()
        ));
    }
    match regex::Regex::new(pattern) {
        Ok(_) => Ok(()),
        Err(error) => Err(format!(
            "regex {pattern:?} does not compile: {}",
            regex_reason(&error)
        )),
    }
}

/// The last line of a syntax error ("error: unclosed group"); the lines above repeat the pattern
/// and point into it, which does not fit on one line.
fn regex_reason(error: &regex::Error) -> String {
    match error {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("error: "))
            .unwrap_or(text)
            .to_string(),
        other => other.to_string(),
    }
}

/// A `StringMatch` of a request attribute: at most one pattern; `{}` (present) only where it
/// means something (headers, query parameters); regexes only where the route may use them.
pub(super) fn string_match(
    findings: &mut Findings,
    path: &FieldPath,
    pattern: &StringMatch,
    allow_present: bool,
    allow_regex: bool,
) {
    match pattern.pattern() {
        Err(set) => findings.error(
            path,
            format!(
                "set only one of exact, prefix and regex (found {})",
                enumerate(&set)
            ),
        ),
        Ok(StringPattern::Present) if !allow_present => findings.error(
            path,
            "set one of exact, prefix or regex, or remove this match to accept any value",
        ),
        Ok(StringPattern::Present) => {}
        Ok(StringPattern::Regex(_)) if !allow_regex => findings.error(
            &path.field("regex"),
            "regex matches cannot be used with delegation: use exact or prefix",
        ),
        Ok(StringPattern::Regex(re)) => findings.check(&path.field("regex"), regex(re)),
        Ok(StringPattern::Exact("")) if !allow_present => findings.error(
            &path.field("exact"),
            "exact is empty: write a pattern, or remove this match to accept any value",
        ),
        Ok(StringPattern::Prefix("")) if !allow_present => findings.error(
            &path.field("prefix"),
            "prefix is empty: write a pattern, or remove this match to accept any value",
        ),
        Ok(StringPattern::Exact(_) | StringPattern::Prefix(_)) => {}
    }
}

pub(super) fn percent(value: f64) -> Result<(), String> {
    if (0.0..=100.0).contains(&value) {
        Ok(())
    } else {
        Err(format!("percentage {value} is out of range: use 0 to 100"))
    }
}

pub(super) fn is_ip(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok()
}

/// An IP address (`10.1.2.3`, `2001:db8::1`) or a CIDR block (`10.1.0.0/16`).
pub(super) fn ip_or_cidr(text: &str) -> Result<(), String> {
    let Some((address, length)) = text.split_once('/') else {
        return if is_ip(text) {
            Ok(())
        } else {
            Err(format!(
                "{text:?} is not an IP address or CIDR block: write it like \"10.1.2.3\" or \"10.1.0.0/16\""
            ))
        };
    };
    let address: IpAddr = address.parse().map_err(|_| {
        format!("{text:?} is not a valid CIDR block: {address:?} is not an IP address")
    })?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    match length.parse::<u8>() {
        Ok(bits) if bits <= max && length.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(format!(
            "{text:?} is not a valid CIDR block: the prefix length must be 0 to {max}"
        )),
    }
}

/// A Unix socket path after `unix://`: absolute, or abstract (`@name`).
pub(super) fn unix_socket(path: &str) -> Result<(), String> {
    if path.starts_with('@') || (path.starts_with('/') && !path.ends_with('/')) {
        Ok(())
    } else {
        Err(format!(
            "unix socket {path:?} is not an absolute path to a file: write e.g. \"unix:///var/run/app.sock\""
        ))
    }
}

/// `exportTo`: `.` (this namespace), `*` (every namespace), namespace names, and for
/// ServiceEntries `~` (no namespace but the service's own proxies).
pub(super) fn export_to(
    findings: &mut Findings,
    path: &FieldPath,
    namespace: &str,
    values: &[String],
    service_entry: bool,
    destination_rule_with_selector: bool,
) {
    let own = if namespace.is_empty() { "." } else { namespace };
    let mut seen: Vec<(&str, usize)> = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let at = path.index(i);
        let key = if value == "." { own } else { value.as_str() };
        if let Some(&(_, first)) = seen.iter().find(|(k, _)| *k == key) {
            if values[first] == *value {
                findings.error(&at, format!("{value:?} is listed twice: keep one"));
            } else {
                findings.error(
                    &at,
                    format!(
                        "{value:?} and {:?} at {} both mean this namespace: keep one",
                        values[first],
                        path.index(first)
                    ),
                );
            }
            continue;
        }
        let valid = ["*", "."].contains(&value.as_str())
            || (value == "~" && service_entry)
            || is_dns_label(value);
        if !valid {
            findings.error(
                &at,
                format!(
                    "exportTo value {value:?} is invalid: use \".\" (this namespace), \"*\" (every namespace) or a namespace name"
                ),
            );
            continue;
        }
        seen.push((key, i));
    }
    if values.len() > 1 && values.iter().any(|v| v == "*") {
        findings.error(
            path,
            "\"*\" already exports to every namespace: remove the other values",
        );
    }
    if values.len() > 1 && service_entry && values.iter().any(|v| v == "~") {
        findings.error(
            path,
            "\"~\" hides the service from every namespace: it cannot be combined with other values",
        );
    }
    if destination_rule_with_selector && seen.iter().any(|(key, _)| *key != own) {
        findings.error(
            path,
            "a DestinationRule with a workloadSelector applies only in its own namespace: set exportTo to [\".\"] or remove it",
        );
    }
}

/// References to gateways: `mesh` (the sidecars), `name` (this namespace) or `namespace/name`.
pub(super) fn gateway_names(findings: &mut Findings, path: &FieldPath, names: &[String]) {
    for (i, name) in names.iter().enumerate() {
        let at = path.index(i);
        let valid = match name.split_once('/') {
            Some((namespace, gateway)) => is_dns_label(namespace) && is_dns_label(gateway),
            None => name == "mesh" || is_dns_label(name),
        };
        if valid {
            continue;
        }
        // Istio still reads the old `name.namespace.svc.cluster.local` form.
        let mut parts = name.split('.');
        if let (Some(gateway), Some(namespace), true) =
            (parts.next(), parts.next(), fqdn(name).is_ok())
        {
            findings.warning(
                &at,
                format!(
                    "gateway {name:?} uses the legacy name.namespace form: write it as \"{namespace}/{gateway}\""
                ),
            );
        } else {
            findings.error(
                &at,
                format!(
                    "gateway {name:?} is invalid: write \"name\" (this namespace), \"namespace/name\" or \"mesh\""
                ),
            );
        }
    }
}

/// A `region/zone/subzone` locality, with `*` allowed only as the last character.
pub(super) fn locality(text: &str) -> Result<(), String> {
    let parts: Vec<&str> = text.split('/').collect();
    let stars = text.matches('*').count();
    if text.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        Err(format!(
            "locality {text:?} is invalid: write region, region/zone or region/zone/subzone"
        ))
    } else if stars > 1 || (stars == 1 && !text.ends_with('*')) {
        Err(format!(
            "locality {text:?} is invalid: '*' may only end it, as in \"us-east1/*\""
        ))
    } else {
        Ok(())
    }
}
