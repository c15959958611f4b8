//! Table-driven validation cases: a resource and the exact report lines it must produce.

mod common;
mod destination_rule;
mod gateway;
mod http_route;
mod security;
mod service_entry;
mod sidecar;
mod telemetry;
mod virtual_service;

use pretty_assertions::assert_eq;

use crate::{
    api::decode,
    validate::{Report, Severity, validate},
};

/// The YAML document of a case. A case is written as its resource's `Kind namespace/name` (or
/// `apiVersion Kind namespace/name`, for a version other than the kind's v1) on the first line,
/// then the lines of its spec at any indentation (none for an empty spec): each case shows only
/// what it is about, and the report lines it expects start with that same first line.
fn document(case: &str) -> String {
    let (header, spec) = case.split_once('\n').unwrap_or((case, ""));
    let (api_version, kind, key) = match header.split_whitespace().collect::<Vec<_>>()[..] {
        [kind, key] => (v1(kind), kind, key),
        [api_version, kind, key] => (api_version, kind, key),
        _ => panic!("a case starts with `Kind namespace/name`: {case}"),
    };
    let (namespace, name) = key
        .split_once('/')
        .unwrap_or_else(|| panic!("the key is namespace/name: {case}"));
    let indent = spec
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start().len())
        .min()
        .unwrap_or(0);
    let spec: String = spec
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("\n  {}", &line[indent..]))
        .collect();
    // An empty spec is written as an empty mapping, as a user would write it.
    let spec = if spec.is_empty() { " {}" } else { &spec };
    format!(
        "apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:{spec}\n"
    )
}

/// The apiVersion a case's kind is written at unless it names another.
fn v1(kind: &str) -> &'static str {
    match kind {
        "VirtualService" | "DestinationRule" | "Gateway" | "ServiceEntry" | "WorkloadEntry"
        | "Sidecar" => "networking.istio.io/v1",
        "AuthorizationPolicy" | "PeerAuthentication" | "RequestAuthentication" => {
            "security.istio.io/v1"
        }
        "Telemetry" => "telemetry.istio.io/v1",
        _ => panic!("no apiVersion known for {kind}"),
    }
}

/// The findings of one document, as a [`Report`] displays them, one per line; warnings are
/// prefixed with `warning: ` so that the cases also pin the severity.
fn report_lines(yaml: &str) -> Vec<String> {
    let document: serde_json::Value = serde_saphyr::from_str(yaml)
        .unwrap_or_else(|e| panic!("the case's YAML parses: {e}\n{yaml}"));
    let decoded = decode(&document).unwrap_or_else(|e| panic!("the case decodes: {e}\n{yaml}"));
    assert_eq!(
        decoded.unknown_fields,
        vec![],
        "the case has a typo:\n{yaml}"
    );
    let report = Report {
        key: decoded.resource.key(),
        findings: validate(&decoded.resource),
    };
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        report.findings.len(),
        "a message spans several lines"
    );
    report
        .findings
        .iter()
        .zip(lines)
        .map(|(finding, line)| match finding.severity {
            Severity::Error => line.to_string(),
            Severity::Warning => format!("warning: {line}"),
        })
        .collect()
}

/// Checks each case (see [`document`]) and the report lines it must produce, in order.
#[track_caller]
fn check(cases: &[(&str, &[&str])]) {
    for (case, expected) in cases {
        let yaml = document(case);
        assert_eq!(report_lines(&yaml), *expected, "for the document:\n{yaml}");
    }
}
