//! Table-driven validation cases: a YAML document and the exact report lines it must produce.

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

/// Checks each case: the YAML document and the report lines it must produce, in order.
#[track_caller]
fn check(cases: &[(&str, &[&str])]) {
    for (yaml, expected) in cases {
        assert_eq!(report_lines(yaml), *expected, "for the document:\n{yaml}");
    }
}
