//! One HTTP rule of a VirtualService: its action (route, redirect, direct response or delegate),
//! matches, rewrites and header edits. Retries, faults, mirrors and CORS are in
//! [`super::http_policy`].

use super::{
    common::{self, Findings},
    headers, http_policy, selectors,
    virtual_service::{self, Scope},
};
use crate::{
    api::{HttpBody, HttpDirectResponse, HttpMatchRequest, HttpRedirect, HttpRewrite, HttpRoute},
    path::FieldPath,
};

/// Direct responses live in every proxy's configuration: keep them small.
const DIRECT_RESPONSE_WARN_BYTES: usize = 100 * 1024;
const DIRECT_RESPONSE_MAX_BYTES: usize = 1024 * 1024;

pub(super) fn validate(
    findings: &mut Findings,
    path: &FieldPath,
    route: &HttpRoute,
    scope: Scope<'_>,
) {
    action(findings, path, route, scope);
    // Delegation merges the root's matches with the delegate's, which only works for exact and
    // prefix patterns.
    let allow_regex = !(scope.delegate || route.delegate.is_some());
    for (j, m) in route.matches.iter().enumerate() {
        match_request(
            findings,
            &path.field("match").index(j),
            m,
            allow_regex,
            scope,
        );
    }
    let mut weights = Vec::with_capacity(route.route.len());
    for (k, destination) in route.route.iter().enumerate() {
        let at = path.field("route").index(k);
        virtual_service::destination(findings, &at.field("destination"), &destination.destination);
        headers::headers(findings, &at.field("headers"), destination.headers.as_ref());
        weights.push(destination.weight);
    }
    virtual_service::weights(findings, &path.field("route"), &weights);
    if let Some(redirect) = &route.redirect {
        self::redirect(findings, &path.field("redirect"), redirect);
    }
    if let Some(response) = &route.direct_response {
        direct_response(findings, &path.field("directResponse"), response);
    }
    if let Some(delegate) = &route.delegate {
        let at = path.field("delegate");
        if delegate.name.is_empty() {
            findings.error(&at.field("name"), "name the VirtualService to delegate to");
        } else if !common::is_dns_subdomain(&delegate.name) {
            findings.error(
                &at.field("name"),
                format!("{:?} is not a VirtualService name", delegate.name),
            );
        }
        if !delegate.namespace.is_empty() && !common::is_dns_label(&delegate.namespace) {
            findings.error(
                &at.field("namespace"),
                format!("{:?} is not a namespace name", delegate.namespace),
            );
        }
    }
    if let Some(rewrite) = &route.rewrite {
        self::rewrite(findings, &path.field("rewrite"), rewrite);
    }
    if let Some(timeout) = &route.timeout {
        findings.check(&path.field("timeout"), common::duration(timeout));
    }
    http_policy::validate(findings, path, route);
    headers::headers(findings, &path.field("headers"), route.headers.as_ref());
    authority_set_once(findings, path, route);
}

/// A rule does exactly one thing with a request.
fn action(findings: &mut Findings, path: &FieldPath, route: &HttpRoute, scope: Scope<'_>) {
    let set: Vec<&str> = [
        ("route", !route.route.is_empty()),
        ("redirect", route.redirect.is_some()),
        ("directResponse", route.direct_response.is_some()),
        ("delegate", route.delegate.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match set.as_slice() {
        [] => findings.error(
            path,
            "the rule does nothing: set one of route, redirect, directResponse and delegate",
        ),
        [_] => {}
        _ => findings.error(
            path,
            format!(
                "set at most one of route, redirect, directResponse and delegate (found {})",
                common::enumerate(&set)
            ),
        ),
    }
    if scope.delegate && route.delegate.is_some() {
        findings.error(
            &path.field("delegate"),
            "a delegate VirtualService cannot delegate again: route these requests here",
        );
    }
    let answered_by_proxy = if route.redirect.is_some() {
        Some("redirect")
    } else if route.direct_response.is_some() {
        Some("directResponse")
    } else {
        None
    };
    if let Some(action) = answered_by_proxy {
        if route.fault.is_some() {
            findings.error(
                &path.field("fault"),
                format!("fault injection does not apply to a {action}: remove fault, or use route"),
            );
        }
        if route.rewrite.is_some() {
            findings.error(
                &path.field("rewrite"),
                format!(
                    "rewrite does not apply to a {action}: remove it (a redirect takes its new URI and authority in redirect)"
                ),
            );
        }
    }
}

fn match_request(
    findings: &mut Findings,
    path: &FieldPath,
    m: &HttpMatchRequest,
    allow_regex: bool,
    scope: Scope<'_>,
) {
    for (field, pattern) in [
        ("uri", &m.uri),
        ("scheme", &m.scheme),
        ("method", &m.method),
        ("authority", &m.authority),
    ] {
        if let Some(pattern) = pattern {
            common::string_match(findings, &path.field(field), pattern, false, allow_regex);
        }
    }
    for (field, map) in [
        ("headers", &m.headers),
        ("withoutHeaders", &m.without_headers),
    ] {
        for (name, pattern) in map {
            let at = path.field(field).field(name.as_str());
            match_header_name(findings, &at, name, scope.gateways_only);
            // An empty value is meaningful for headers: present, with no value.
            common::string_match(findings, &at, pattern, true, allow_regex);
        }
    }
    for (name, pattern) in &m.query_params {
        let at = path.field("queryParams").field(name.as_str());
        if name.is_empty() {
            findings.error(
                &at,
                "query parameter name is empty: name the parameter to match",
            );
        }
        common::string_match(findings, &at, pattern, true, allow_regex);
    }
    if m.ignore_uri_case == Some(true) {
        let at = path.field("ignoreUriCase");
        match &m.uri {
            None => findings.warning(
                &at,
                "ignoreUriCase has no effect without a uri match: add uri or remove ignoreUriCase",
            ),
            Some(uri) if uri.regex.is_some() => findings.error(
                &at,
                "ignoreUriCase does not apply to regex uri matches: start the regex with \"(?i)\" instead",
            ),
            Some(_) => {}
        }
    }
    if let Some(port) = m.port {
        findings.check(&path.field("port"), common::port(port));
    }
    selectors::labels(findings, &path.field("sourceLabels"), &m.source_labels);
    common::gateway_names(findings, &path.field("gateways"), &m.gateways);
    virtual_service::source_namespace_name(
        findings,
        &path.field("sourceNamespace"),
        &m.source_namespace,
    );
}

/// Header names of matches; gateways may also route on a JWT claim
/// (`@request.auth.claims.group`) of a token that a RequestAuthentication verified.
fn match_header_name(findings: &mut Findings, path: &FieldPath, name: &str, gateways_only: bool) {
    let Some(claim) = name.strip_prefix("@request.auth.claims") else {
        findings.check(path, headers::header_name(name));
        return;
    };
    let well_formed = (claim.len() > 1 && claim.starts_with('.'))
        || (claim.len() > 2 && claim.starts_with('[') && claim.ends_with(']'));
    if !gateways_only {
        findings.error(
            path,
            format!(
                "routing on the JWT claim {name:?} works only on gateways: bind the VirtualService to gateways only, or match a header"
            ),
        );
    } else if !well_formed {
        findings.error(
            path,
            format!("claim {name:?} is malformed: write \"@request.auth.claims.NAME\""),
        );
    }
}

fn redirect(findings: &mut Findings, path: &FieldPath, redirect: &HttpRedirect) {
    let changes_something = !redirect.uri.is_empty()
        || !redirect.authority.is_empty()
        || !redirect.scheme.is_empty()
        || redirect.port.is_some()
        || redirect.derive_port.is_some();
    if !changes_something {
        findings.error(
            path,
            "the redirect changes nothing: set uri, authority, scheme, port or derivePort",
        );
    }
    if let Some(code) = redirect.redirect_code.filter(|c| !(300..=399).contains(c)) {
        findings.error(
            &path.field("redirectCode"),
            format!("redirectCode {code} is not a redirect status: use 301, 302, 303, 307 or 308"),
        );
    }
    if !["", "http", "https"].contains(&redirect.scheme.as_str()) {
        findings.error(
            &path.field("scheme"),
            format!(
                "scheme {:?} is not supported: use \"http\" or \"https\"",
                redirect.scheme
            ),
        );
    }
    if let Some(port) = redirect.port {
        findings.check(&path.field("port"), common::port(port));
        if redirect.derive_port.is_some() {
            findings.error(path, "set at most one of port and derivePort");
        }
    }
}

fn direct_response(findings: &mut Findings, path: &FieldPath, response: &HttpDirectResponse) {
    if !(200..=599).contains(&response.status) {
        findings.error(
            &path.field("status"),
            format!("status {} is out of range: use 200 to 599", response.status),
        );
    }
    let (field, size) = match &response.body {
        Some(HttpBody::String(text)) => ("string", text.len()),
        Some(HttpBody::Bytes(base64)) => ("bytes", base64.len() / 4 * 3),
        None => return,
    };
    let at = path.field("body").field(field);
    if size > DIRECT_RESPONSE_MAX_BYTES {
        findings.error(
            &at,
            format!("the body is {size} bytes: keep direct responses under 1 MiB, every proxy holds them"),
        );
    } else if size > DIRECT_RESPONSE_WARN_BYTES {
        findings.warning(
            &at,
            format!(
                "the body is {size} bytes: large direct responses slow down configuration pushes"
            ),
        );
    }
}

fn rewrite(findings: &mut Findings, path: &FieldPath, rewrite: &HttpRewrite) {
    if !rewrite.uri.is_empty() && rewrite.uri_regex_rewrite.is_some() {
        findings.error(path, "set at most one of uri and uriRegexRewrite");
    }
    if rewrite.uri.is_empty() && rewrite.authority.is_empty() && rewrite.uri_regex_rewrite.is_none()
    {
        findings.error(
            path,
            "the rewrite changes nothing: set uri, uriRegexRewrite or authority",
        );
    }
    if let Some(regex_rewrite) = &rewrite.uri_regex_rewrite {
        let at = path.field("uriRegexRewrite");
        findings.check(&at.field("match"), common::regex(&regex_rewrite.pattern));
        if regex_rewrite.rewrite.is_empty() {
            findings.error(
                &at.field("rewrite"),
                "rewrite is empty: write the replacement, e.g. \"/v2/\\1\"",
            );
        }
    }
}

/// The authority can be rewritten by `rewrite.authority` or by a request header edit; doing both
/// leaves one of them silently unused.
fn authority_set_once(findings: &mut Findings, path: &FieldPath, route: &HttpRoute) {
    let mut setters: Vec<(FieldPath, &str)> = Vec::new();
    if let Some(rewrite) = route.rewrite.as_ref().filter(|r| !r.authority.is_empty()) {
        setters.push((path.field("rewrite").field("authority"), &rewrite.authority));
    }
    let request = route.headers.as_ref().and_then(|h| h.request.as_ref());
    for (op, edits) in request
        .iter()
        .flat_map(|r| [("set", &r.set), ("add", &r.add)])
    {
        for (name, value) in edits.iter().filter(|(name, _)| headers::is_authority(name)) {
            let at = path
                .field("headers")
                .field("request")
                .field(op)
                .field(name.as_str());
            setters.push((at, value));
        }
    }
    if let [(first, value), (second, _), ..] = setters.as_slice() {
        findings.error(
            second,
            format!("the authority is already set to {value:?} by {first}: set it in one place"),
        );
    }
}
