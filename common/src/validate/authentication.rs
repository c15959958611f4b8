//! `PeerAuthentication` (mTLS modes) and `RequestAuthentication` (accepted JWTs).

use super::{
    common::{self, Findings},
    headers, selectors,
};
use crate::{
    api::{JwtRule, PeerAuthenticationSpec, RequestAuthenticationSpec},
    path::FieldPath,
};

pub(super) fn validate_peer(findings: &mut Findings, spec: &PeerAuthenticationSpec) {
    let path = FieldPath::root().field("spec");
    selectors::workload_selector(findings, &path.field("selector"), spec.selector.as_ref());
    let selects_workloads = spec
        .selector
        .as_ref()
        .is_some_and(|s| !s.match_labels.is_empty());
    let ports_at = path.field("portLevelMtls");
    if !spec.port_level_mtls.is_empty() && !selects_workloads {
        // Port numbers are those of one workload; a namespace or mesh-wide policy has none.
        findings.error(&ports_at, "portLevelMtls requires a workload selector");
    }
    for port in spec.port_level_mtls.keys() {
        findings.check(&ports_at.field(port.to_string()), common::port(*port));
    }
}

pub(super) fn validate_request(findings: &mut Findings, spec: &RequestAuthenticationSpec) {
    let path = FieldPath::root().field("spec");
    selectors::policy_target(
        findings,
        &path,
        spec.selector.as_ref(),
        spec.target_ref.as_ref(),
        &spec.target_refs,
    );
    for (i, rule) in spec.jwt_rules.iter().enumerate() {
        jwt_rule(findings, &path.field("jwtRules").index(i), rule);
    }
}

fn jwt_rule(findings: &mut Findings, path: &FieldPath, rule: &JwtRule) {
    if rule.issuer.is_empty() {
        findings.error(
            &path.field("issuer"),
            "issuer is required: the iss claim of the accepted tokens, e.g. \"https://accounts.google.com\"",
        );
    }
    non_empty(
        findings,
        &path.field("audiences"),
        &rule.audiences,
        "audience",
    );
    if !rule.jwks.is_empty() && !rule.jwks_uri.is_empty() {
        findings.error(path, "set at most one of jwks and jwksUri");
    }
    if !rule.jwks_uri.is_empty() {
        findings.check(&path.field("jwksUri"), jwks_uri(&rule.jwks_uri));
    }
    if !rule.jwks.is_empty() {
        findings.check(&path.field("jwks"), jwks(&rule.jwks));
    }
    for (k, header) in rule.from_headers.iter().enumerate() {
        findings.check(
            &path.field("fromHeaders").index(k).field("name"),
            headers::header_name(&header.name),
        );
    }
    non_empty(
        findings,
        &path.field("fromParams"),
        &rule.from_params,
        "query parameter name",
    );
    non_empty(
        findings,
        &path.field("fromCookies"),
        &rule.from_cookies,
        "cookie name",
    );
    if !rule.output_payload_to_header.is_empty() {
        findings.check(
            &path.field("outputPayloadToHeader"),
            headers::header_name(&rule.output_payload_to_header),
        );
    }
    for (k, output) in rule.output_claim_to_headers.iter().enumerate() {
        let at = path.field("outputClaimToHeaders").index(k);
        findings.check(&at.field("header"), headers::header_name(&output.header));
        if output.claim.is_empty() {
            findings.error(
                &at.field("claim"),
                "claim is empty: name the claim to copy, e.g. \"sub\"",
            );
        }
    }
    if let Some(timeout) = &rule.timeout {
        findings.check(&path.field("timeout"), common::duration(timeout));
    }
}

fn non_empty(findings: &mut Findings, path: &FieldPath, values: &[String], what: &str) {
    for (k, value) in values.iter().enumerate() {
        if value.is_empty() {
            findings.error(
                &path.index(k),
                format!("{what} is empty: remove it or write one"),
            );
        }
    }
}

/// Where the proxy fetches the issuer's keys: an `http` or `https` URL with a host.
fn jwks_uri(uri: &str) -> Result<(), String> {
    let invalid = |why: &str| format!("jwksUri {uri:?} is invalid: {why}");
    let rest = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
        .ok_or_else(|| invalid("it must start with https:// (or http://)"))?;
    if uri.contains(char::is_whitespace) {
        return Err(invalid("it contains whitespace"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("its IPv6 address lacks a ']'"))?;
            (ip, after.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(invalid("its port is not a number"));
    }
    if host.is_empty() {
        return Err(invalid("it has no host"));
    }
    Ok(())
}

/// An inline JSON Web Key Set: a JSON object with a `keys` list.
fn jwks(text: &str) -> Result<(), String> {
    let invalid = |why: String| {
        format!(
            "jwks is not a JSON Web Key Set ({why}): paste the JSON document with its \"keys\" list"
        )
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if value.get("keys").is_some_and(serde_json::Value::is_array) {
        Ok(())
    } else {
        Err(invalid("no \"keys\" list".into()))
    }
}
