//! HTTP header names and values, header edits, and HTTP methods.

use super::common::Findings;
use crate::{
    api::{HeaderOperations, Headers},
    path::FieldPath,
};

/// The methods Istio accepts in CORS policies.
pub(super) const HTTP_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE",
];

/// A header name as Istio matches on it: letters, digits, `-` and `_`.
pub(super) fn header_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("header name is empty: name a header, e.g. \"x-request-id\"".into())
    } else if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(())
    } else {
        Err(format!(
            "header name {name:?} is invalid: use letters, digits, '-' and '_'"
        ))
    }
}

/// A header value the proxy writes. `%NAME%` is a variable the proxy fills in (`%HOSTNAME%`,
/// `%REQ(x-id)%`), so a literal percent sign must be written `%%`; Envoy rejects anything else.
pub(super) fn header_value(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "header value {value:?} has a control character: remove it"
        ));
    }
    let mut rest = value;
    while let Some(start) = rest.find('%') {
        let after = &rest[start + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            rest = tail;
            continue;
        }
        let is_variable = after.starts_with(|c: char| c.is_ascii_uppercase());
        match after.find('%') {
            Some(end) if is_variable => rest = &after[end + 1..],
            _ => {
                return Err(format!(
                    "header value {value:?} has a '%' that does not start a variable like \"%HOSTNAME%\": write \"%%\" for a literal percent sign"
                ));
            }
        }
    }
    Ok(())
}

/// The header edits of a route or destination.
pub(super) fn headers(findings: &mut Findings, path: &FieldPath, headers: Option<&Headers>) {
    let Some(headers) = headers else { return };
    if let Some(request) = &headers.request {
        operations(findings, &path.field("request"), request, true);
    }
    if let Some(response) = &headers.response {
        operations(findings, &path.field("response"), response, false);
    }
}

fn operations(findings: &mut Findings, path: &FieldPath, ops: &HeaderOperations, request: bool) {
    for (field, edits) in [("set", &ops.set), ("add", &ops.add)] {
        for (name, value) in edits {
            let at = path.field(field).field(name.as_str());
            findings.check(&at, edited_header_name(name, request));
            findings.check(&at, header_value(value));
        }
    }
    for (i, name) in ops.remove.iter().enumerate() {
        findings.check(
            &path.field("remove").index(i),
            edited_header_name(name, false),
        );
    }
}

/// Whether `name` names the authority (`:authority` or `Host`), which only a request edit may set.
pub(super) fn is_authority(name: &str) -> bool {
    name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")
}

fn edited_header_name(name: &str, may_set_authority: bool) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name is empty: name the header to edit".into());
    }
    if is_authority(name) {
        return if may_set_authority {
            Ok(())
        } else {
            Err(format!(
                "header {name:?} can only be set or added on requests: the authority is needed to route (rewrite it with rewrite.authority)"
            ))
        };
    }
    if name.starts_with(':') {
        return Err(format!(
            "header {name:?} is a pseudo-header that the proxy sets: it cannot be edited"
        ));
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.chars().all(token) {
        Ok(())
    } else {
        Err(format!(
            "header name {name:?} is invalid: use letters, digits and -_.!#$%&'*+^`|~ (no spaces or ':')"
        ))
    }
}
