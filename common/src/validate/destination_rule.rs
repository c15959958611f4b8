//! `DestinationRule`: its host, subsets, traffic policies and visibility.

use super::{
    common::{self, Findings},
    selectors, traffic_policy,
};
use crate::{api::DestinationRuleSpec, path::FieldPath};

pub(super) fn validate(findings: &mut Findings, namespace: &str, spec: &DestinationRuleSpec) {
    let path = FieldPath::root().field("spec");
    if spec.host.is_empty() {
        findings.error(
            &path.field("host"),
            "host is empty: name the service this rule applies to, e.g. \"reviews\"",
        );
    } else {
        findings.check(&path.field("host"), common::host(&spec.host));
    }
    if let Some(policy) = &spec.traffic_policy {
        traffic_policy::validate(findings, &path.field("trafficPolicy"), policy);
    }
    let mut names: Vec<(&str, usize)> = Vec::new();
    for (k, subset) in spec.subsets.iter().enumerate() {
        let at = path.field("subsets").index(k);
        let name = subset.name.as_str();
        if name.is_empty() {
            findings.error(&at.field("name"), "name the subset, e.g. \"v1\"");
        } else if !common::is_dns_label(name) {
            findings.error(
                &at.field("name"),
                format!(
                    "subset name {name:?} is invalid: use a DNS label (lowercase letters, digits and '-')"
                ),
            );
        } else if let Some(&(_, first)) = names.iter().find(|(n, _)| *n == name) {
            findings.error(
                &at.field("name"),
                format!(
                    "subset {name:?} is already defined at {}: rename one",
                    path.field("subsets").index(first)
                ),
            );
        } else {
            names.push((name, k));
        }
        selectors::labels(findings, &at.field("labels"), &subset.labels);
        if let Some(policy) = &subset.traffic_policy {
            traffic_policy::validate(findings, &at.field("trafficPolicy"), policy);
        }
    }
    common::export_to(
        findings,
        &path.field("exportTo"),
        namespace,
        &spec.export_to,
        false,
        spec.workload_selector.is_some(),
    );
    selectors::workload_selector(
        findings,
        &path.field("workloadSelector"),
        spec.workload_selector.as_ref(),
    );
}
