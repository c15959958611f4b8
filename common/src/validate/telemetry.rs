//! `Telemetry`: what it applies to, and its tracing entries, as Istio validates them.

use super::{
    common::{self, Findings},
    selectors,
};
use crate::{
    api::{CustomTag, TelemetrySpec, Tracing},
    path::FieldPath,
};

pub(super) fn validate(findings: &mut Findings, spec: &TelemetrySpec) {
    let path = FieldPath::root().field("spec");
    selectors::policy_target(
        findings,
        &path,
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
    );
    let at = path.field("tracing");
    if spec.tracing.len() > 1 {
        // Istio warns too: its entries override each other in order, which is rarely meant.
        findings.warning(
            &at,
            "several tracing entries: each overrides the one before for the modes it matches; \
             prefer one entry per mode",
        );
    }
    for (i, tracing) in spec.tracing.iter().enumerate() {
        tracing_entry(findings, &at.index(i), tracing);
    }
    for (i, metrics) in spec.metrics.iter().enumerate() {
        providers(
            findings,
            &path.field("metrics").index(i),
            &metrics.providers,
        );
    }
    for (i, logging) in spec.access_logging.iter().enumerate() {
        let at = path.field("accessLogging").index(i);
        providers(findings, &at, &logging.providers);
    }
}

fn tracing_entry(findings: &mut Findings, path: &FieldPath, tracing: &Tracing) {
    providers(findings, path, &tracing.providers);
    if tracing.providers.len() > 1 {
        findings.warning(
            &path.field("providers"),
            "only one provider is used, the first the mesh config defines, as in Istio: name one",
        );
    }
    if let Some(percent) = tracing.random_sampling_percentage {
        findings.check(
            &path.field("randomSamplingPercentage"),
            common::percent(percent),
        );
    }
    for (name, tag) in &tracing.custom_tags {
        let at = path.field("customTags").field(name.as_str());
        if name.is_empty() {
            findings.error(&at, "a tag needs a name");
        }
        custom_tag(findings, &at, tag);
    }
}

/// Every provider is named: the name is looked up in the mesh config's `extensionProviders`.
fn providers(findings: &mut Findings, path: &FieldPath, providers: &[crate::api::ProviderRef]) {
    for (i, provider) in providers.iter().enumerate() {
        if provider.name.is_empty() {
            findings.error(
                &path.field("providers").index(i).field("name"),
                "name an extensionProviders entry of the mesh config",
            );
        }
    }
}

fn custom_tag(findings: &mut Findings, path: &FieldPath, tag: &CustomTag) {
    let set: Vec<&str> = [
        ("literal", tag.literal.is_some()),
        ("environment", tag.environment.is_some()),
        ("header", tag.header.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match set.len() {
        0 => findings.error(path, "set one of literal, environment and header"),
        1 => {}
        _ => findings.error(
            path,
            format!(
                "set only one of literal, environment and header (found {})",
                common::enumerate(&set)
            ),
        ),
    }
    if tag.literal.as_ref().is_some_and(|l| l.value.is_empty()) {
        findings.error(
            &path.field("literal").field("value"),
            "a literal tag needs a value",
        );
    }
    if tag.environment.as_ref().is_some_and(|e| e.name.is_empty()) {
        findings.error(
            &path.field("environment").field("name"),
            "name the environment variable",
        );
    }
    if tag.header.as_ref().is_some_and(|h| h.name.is_empty()) {
        findings.error(&path.field("header").field("name"), "name the header");
    }
}
