//! Labels, workload selectors and policy targets: how resources choose the workloads they apply
//! to.

use std::collections::BTreeMap;

use super::common::{self, Findings};
use crate::{
    api::{PolicyTargetReference, WorkloadLabels, WorkloadSelector},
    path::FieldPath,
};

/// Labels that select or describe workloads, checked as Kubernetes checks them.
pub(super) fn labels(findings: &mut Findings, path: &FieldPath, labels: &BTreeMap<String, String>) {
    for (key, value) in labels {
        findings.check(&path.field(key.as_str()), label(key, value));
    }
}

fn label(key: &str, value: &str) -> Result<(), String> {
    if key.contains('*') || value.contains('*') {
        return Err(format!(
            "label {key}={value} has a '*': labels match exactly, list the values instead"
        ));
    }
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if prefix.is_some_and(|p| !common::is_dns_subdomain(p)) || !is_label_text(name) {
        return Err(format!(
            "label key {key:?} is invalid: use at most 63 letters, digits, '-', '_' or '.' (starting and ending with a letter or digit), optionally after a DNS prefix like \"app.kubernetes.io/\""
        ));
    }
    if !value.is_empty() && !is_label_text(value) {
        return Err(format!(
            "label value {value:?} is invalid: use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn is_label_text(text: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.len() <= 63
        && edge(text.chars().next())
        && edge(text.chars().last())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A `selector`/`workloadSelector` of the `matchLabels` form.
pub(super) fn workload_selector(
    findings: &mut Findings,
    path: &FieldPath,
    selector: Option<&WorkloadSelector>,
) {
    if let Some(selector) = selector {
        selector_labels(findings, path, "matchLabels", &selector.match_labels);
    }
}

/// A `workloadSelector` of the `labels` form (Sidecar, ServiceEntry).
pub(super) fn workload_labels(
    findings: &mut Findings,
    path: &FieldPath,
    selector: Option<&WorkloadLabels>,
) {
    if let Some(selector) = selector {
        selector_labels(findings, path, "labels", &selector.labels);
    }
}

fn selector_labels(
    findings: &mut Findings,
    path: &FieldPath,
    field: &str,
    selected: &BTreeMap<String, String>,
) {
    if selected.is_empty() {
        findings.warning(
            path,
            "the selector has no labels, so it selects every workload of the namespace: add labels or remove the selector",
        );
    }
    labels(findings, &path.field(field), selected);
}

/// How a policy chooses its workloads: by `selector`, or by `targetRef`/`targetRefs` (one way).
pub(super) fn policy_target(
    findings: &mut Findings,
    spec: &FieldPath,
    selector: Option<&WorkloadSelector>,
    target_ref: Option<&PolicyTargetReference>,
    target_refs: &[PolicyTargetReference],
) {
    let set: Vec<&str> = [
        ("selector", selector.is_some()),
        ("targetRef", target_ref.is_some()),
        ("targetRefs", !target_refs.is_empty()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if set.len() > 1 {
        findings.error(
            spec,
            format!(
                "set only one of selector, targetRef and targetRefs (found {})",
                common::enumerate(&set)
            ),
        );
    }
    workload_selector(findings, &spec.field("selector"), selector);
    if let Some(target) = target_ref {
        target_reference(findings, &spec.field("targetRef"), target);
    }
    for (i, target) in target_refs.iter().enumerate() {
        target_reference(findings, &spec.field("targetRefs").index(i), target);
    }
}

fn target_reference(findings: &mut Findings, path: &FieldPath, target: &PolicyTargetReference) {
    if target.name.is_empty() {
        findings.error(
            &path.field("name"),
            "name the resource the policy applies to",
        );
    }
    if !target.namespace.is_empty() {
        findings.error(
            &path.field("namespace"),
            "a policy cannot target another namespace: remove namespace and create the policy in the target's namespace",
        );
    }
    let group = target.group.as_str();
    let allowed = matches!(
        (group, target.kind.as_str()),
        ("" | "core", "Service")
            | ("networking.istio.io", "ServiceEntry")
            | ("gateway.networking.k8s.io", "Gateway")
    );
    if !allowed {
        findings.error(
            path,
            format!(
                "cannot target {}/{}: target a Service, a ServiceEntry (networking.istio.io) or a Gateway (gateway.networking.k8s.io)",
                if group.is_empty() { "core" } else { group },
                target.kind
            ),
        );
    }
}
