//! `AuthorizationPolicy`: its action and provider, and the sources, operations and conditions of
//! its rules.

use super::{
    common::{self, Findings},
    selectors,
};
use crate::{
    api::{AuthorizationAction, AuthorizationPolicySpec, Condition, Operation, Rule, Source},
    path::FieldPath,
};

/// The request attributes a `when` condition can test, for the message that lists them.
const CONDITION_KEYS: &str = "request.headers[NAME], source.ip, remote.ip, source.namespace, source.principal, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[NAME], destination.ip, destination.port, connection.sni or experimental.envoy.filters.*";

/// What a condition's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Values {
    Ips,
    Ports,
    Strings,
}

pub(super) fn validate(findings: &mut Findings, spec: &AuthorizationPolicySpec) {
    let path = FieldPath::root().field("spec");
    selectors::policy_target(
        findings,
        &path,
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
    );
    let action = spec.action.unwrap_or(AuthorizationAction::Allow);
    let action_name = match action {
        AuthorizationAction::Allow => "ALLOW",
        AuthorizationAction::Deny => "DENY",
        AuthorizationAction::Audit => "AUDIT",
        AuthorizationAction::Custom => "CUSTOM",
    };
    if matches!(
        action,
        AuthorizationAction::Custom | AuthorizationAction::Deny
    ) && spec.rules.is_empty()
    {
        findings.error(
            &path.field("rules"),
            format!(
                "a {action_name} policy without rules never applies: add rules (an empty rule {{}} matches every request)"
            ),
        );
    }
    match (&spec.provider, action) {
        (Some(provider), AuthorizationAction::Custom) if provider.name.is_empty() => findings.error(
            &path.field("provider").field("name"),
            "name the extension provider (declared in the mesh config) that decides",
        ),
        (None, AuthorizationAction::Custom) => findings.error(
            &path.field("provider"),
            "action CUSTOM needs provider.name: the extension provider (declared in the mesh config) that decides",
        ),
        (Some(_), AuthorizationAction::Custom) | (None, _) => {}
        (Some(_), _) => findings.error(
            &path.field("provider"),
            format!("provider applies only to action CUSTOM, not {action_name}: set action: CUSTOM or remove provider"),
        ),
    }
    for (i, rule) in spec.rules.iter().enumerate() {
        self::rule(findings, &path.field("rules").index(i), rule, action);
    }
}

fn rule(findings: &mut Findings, path: &FieldPath, rule: &Rule, action: AuthorizationAction) {
    let custom = action == AuthorizationAction::Custom;
    let mut tcp_in_from = false;
    for (j, from) in rule.from.iter().enumerate() {
        let at = path.field("from").index(j).field("source");
        tcp_in_from |= source(findings, &at, &from.source, custom);
    }
    let mut tcp_in_to = false;
    for (j, to) in rule.to.iter().enumerate() {
        let at = path.field("to").index(j).field("operation");
        tcp_in_to |= operation(findings, &at, &to.operation);
    }
    for (k, when) in rule.when.iter().enumerate() {
        condition(findings, &path.field("when").index(k), when, custom);
    }
    // A DENY rule on HTTP attributes cannot be evaluated on TCP connections, so the proxy denies
    // them all.
    let http_only = (!rule.from.is_empty() && rule.to.is_empty() && !tcp_in_from)
        || (!rule.to.is_empty() && !tcp_in_to);
    if action == AuthorizationAction::Deny && http_only {
        findings.warning(
            path,
            "this DENY rule tests only HTTP attributes, so it denies every TCP connection to the workload: add ports to the operation to limit it",
        );
    }
}

/// Checks a source; returns whether it tests attributes that TCP connections have.
fn source(findings: &mut Findings, path: &FieldPath, source: &Source, custom: bool) -> bool {
    let lists: [(&str, &[String], Values); 12] = [
        ("principals", &source.principals, Values::Strings),
        ("notPrincipals", &source.not_principals, Values::Strings),
        (
            "requestPrincipals",
            &source.request_principals,
            Values::Strings,
        ),
        (
            "notRequestPrincipals",
            &source.not_request_principals,
            Values::Strings,
        ),
        ("namespaces", &source.namespaces, Values::Strings),
        ("notNamespaces", &source.not_namespaces, Values::Strings),
        ("ipBlocks", &source.ip_blocks, Values::Ips),
        ("notIpBlocks", &source.not_ip_blocks, Values::Ips),
        ("remoteIpBlocks", &source.remote_ip_blocks, Values::Ips),
        (
            "notRemoteIpBlocks",
            &source.not_remote_ip_blocks,
            Values::Ips,
        ),
        ("serviceAccounts", &source.service_accounts, Values::Strings),
        (
            "notServiceAccounts",
            &source.not_service_accounts,
            Values::Strings,
        ),
    ];
    if lists.iter().all(|(_, values, _)| values.is_empty()) {
        findings.error(
            path,
            "the source is empty: set principals, requestPrincipals, namespaces, ipBlocks or serviceAccounts (or a not- form), or remove this entry",
        );
    }
    for (field, values, kind) in lists {
        // Istio rejects identity attributes in CUSTOM rules; so do we, so that policies stay portable.
        if custom && kind != Values::Ips && !values.is_empty() {
            findings.error(
                &path.field(field),
                format!(
                    "{field} is not supported with action CUSTOM: match it in an ALLOW or DENY policy, or use ipBlocks"
                ),
            );
        }
        list(findings, &path.field(field), values, kind);
    }
    let request_only = ["requestPrincipals", "notRequestPrincipals"];
    lists
        .iter()
        .any(|(field, values, _)| !values.is_empty() && !request_only.contains(field))
}

/// Checks an operation; returns whether it tests ports, which TCP connections have.
fn operation(findings: &mut Findings, path: &FieldPath, operation: &Operation) -> bool {
    let lists: [(&str, &[String], Values); 8] = [
        ("hosts", &operation.hosts, Values::Strings),
        ("notHosts", &operation.not_hosts, Values::Strings),
        ("ports", &operation.ports, Values::Ports),
        ("notPorts", &operation.not_ports, Values::Ports),
        ("methods", &operation.methods, Values::Strings),
        ("notMethods", &operation.not_methods, Values::Strings),
        ("paths", &operation.paths, Values::Strings),
        ("notPaths", &operation.not_paths, Values::Strings),
    ];
    if lists.iter().all(|(_, values, _)| values.is_empty()) {
        findings.error(
            path,
            "the operation is empty: set hosts, ports, methods or paths (or a not- form), or remove this entry",
        );
    }
    for (field, values, kind) in lists {
        if matches!(field, "paths" | "notPaths") {
            for (k, value) in values.iter().enumerate() {
                findings.check(&path.field(field).index(k), request_path(value));
            }
        } else {
            list(findings, &path.field(field), values, kind);
        }
    }
    !operation.ports.is_empty() || !operation.not_ports.is_empty()
}

fn condition(findings: &mut Findings, path: &FieldPath, condition: &Condition, custom: bool) {
    let key = condition.key.as_str();
    if key.is_empty() {
        findings.error(
            &path.field("key"),
            "key is empty: name a request attribute, e.g. request.headers[x-token] or source.ip",
        );
        return;
    }
    if condition.values.is_empty() && condition.not_values.is_empty() {
        findings.error(
            path,
            format!("condition {key} has no values: set values or notValues"),
        );
    }
    let kind = match attribute(key) {
        Ok(kind) => kind,
        Err(message) => {
            findings.error(&path.field("key"), message);
            return;
        }
    };
    let auth =
        key == "source.namespace" || key == "source.principal" || key.starts_with("request.auth.");
    if custom && auth {
        findings.error(
            &path.field("key"),
            format!(
                "{key} is not supported with action CUSTOM: test it in an ALLOW or DENY policy"
            ),
        );
    }
    list(findings, &path.field("values"), &condition.values, kind);
    list(
        findings,
        &path.field("notValues"),
        &condition.not_values,
        kind,
    );
}

/// What the values of a condition key are, or why the key is not one.
fn attribute(key: &str) -> Result<Values, String> {
    let bracketed = |prefix: &str| -> Result<Values, String> {
        let well_formed = key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('['))
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|name| !name.is_empty());
        if well_formed {
            Ok(Values::Strings)
        } else {
            Err(format!(
                "condition key {key:?} is malformed: write it as {prefix}[NAME]"
            ))
        }
    };
    match key {
        "source.ip" | "remote.ip" | "destination.ip" => Ok(Values::Ips),
        "destination.port" => Ok(Values::Ports),
        "source.namespace"
        | "source.principal"
        | "request.auth.principal"
        | "request.auth.audiences"
        | "request.auth.presenter"
        | "connection.sni" => Ok(Values::Strings),
        _ if key.starts_with("request.headers") => bracketed("request.headers"),
        _ if key.starts_with("request.auth.claims") => bracketed("request.auth.claims"),
        _ if key.starts_with("experimental.envoy.filters.") => {
            let open = key.find('[');
            if open.is_some_and(|i| i + 2 < key.len()) && key.ends_with(']') {
                Ok(Values::Strings)
            } else {
                Err(format!(
                    "condition key {key:?} is malformed: write it as experimental.envoy.filters.FILTER[FIELD]"
                ))
            }
        }
        "destination.namespace" => Err(
            "destination.namespace cannot be tested: a policy applies in its own namespace already"
                .into(),
        ),
        _ if key.starts_with("destination.labels") => Err(format!(
            "{key} cannot be tested: choose the workloads with the policy's selector instead"
        )),
        "destination.name" | "destination.user" => Err(format!(
            "{key} is no longer supported: choose the workloads with the policy's selector"
        )),
        _ => Err(format!(
            "unknown condition key {key:?}: use {CONDITION_KEYS}"
        )),
    }
}

/// The values of one source, operation or condition field.
fn list(findings: &mut Findings, path: &FieldPath, values: &[String], kind: Values) {
    for (k, value) in values.iter().enumerate() {
        let at = path.index(k);
        if value.is_empty() {
            findings.error(&at, "value is empty: remove it or write a value");
            continue;
        }
        let result = match kind {
            Values::Ips => common::ip_or_cidr(value),
            Values::Ports => match value.parse::<u32>() {
                Ok(port) if port <= 65535 && value.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
                _ => Err(format!(
                    "port {value:?} is invalid: use a number from 0 to 65535"
                )),
            },
            Values::Strings => wildcard(value),
        };
        findings.check(&at, result);
    }
}

/// Values match exactly, by prefix (`prefix*`), by suffix (`*suffix`) or by presence (`*`); any
/// other `*` is a literal character, which is rarely what was meant.
fn wildcard(value: &str) -> Result<(), String> {
    let stars = value.matches('*').count();
    if stars == 0
        || value == "*"
        || (stars == 1 && (value.starts_with('*') || value.ends_with('*')))
    {
        Ok(())
    } else {
        Err(format!(
            "value {value:?} has a '*' that is not a wildcard: only \"*\", \"prefix*\" and \"*suffix\" match patterns"
        ))
    }
}

/// A path of an operation: absolute, a `*` pattern, or a template with `{*}` and `{**}`.
fn request_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("path is empty: remove it or write a path such as \"/api/*\"".into());
    }
    if path.contains("{*}") || path.contains("{**}") {
        let rest = path.replace("{**}", "").replace("{*}", "");
        return if rest.contains(['{', '}', '*']) {
            Err(format!(
                "path template {path:?} is not supported: use {{*}} for one segment and {{**}} for the rest, without names or a bare '*'"
            ))
        } else {
            Ok(())
        };
    }
    if !path.starts_with('/') && !path.starts_with('*') {
        return Err(format!(
            "path {path:?} does not start with '/': write \"/{path}\" (or \"*{path}\" to match a suffix)"
        ));
    }
    wildcard(path)
}
