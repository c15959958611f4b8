//! What a VirtualService HTTP route does besides choosing a cluster, as Istio translates it:
//! answering itself (`redirect`, `directResponse`), rewriting the request (`rewrite`), editing
//! headers (`headers`, on the route and on each destination), mirroring it (`mirror`,
//! `mirrors`) and answering CORS (`corsPolicy`, with the CORS filter Istio installs in every
//! connection manager that routes by VirtualService).

use std::collections::BTreeMap;

use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{
                DataSource, HeaderValue, HeaderValueOption, RuntimeFractionalPercent,
                data_source::Specifier, header_value_option::HeaderAppendAction,
            },
            route::v3::{
                DirectResponseAction, RedirectAction, RouteAction,
                redirect_action::{
                    PathRewriteSpecifier, RedirectResponseCode, SchemeRewriteSpecifier,
                },
                route_action::{HostRewriteSpecifier, RequestMirrorPolicy},
            },
        },
        extensions::filters::{
            http::cors::v3::{Cors, CorsPolicy as PbCorsPolicy},
            network::http_connection_manager::v3::{HttpFilter, http_filter},
        },
        r#type::{
            matcher::v3::{RegexMatchAndSubstitute, RegexMatcher, StringMatcher, string_matcher},
            v3::{FractionalPercent, fractional_percent::DenominatorType},
        },
    },
    google::protobuf::BoolValue,
};
use envoy_types::util::pack_any;
use mesh_common::api::{
    CorsPolicy, HeaderOperations, Headers, HttpBody, HttpDirectResponse, HttpRedirect, HttpRewrite,
    HttpRoute, Percent, RedirectPortSelection, UnmatchedPreflights,
};

use super::{fault::of_a_million, http_route::string_matcher};

/// The CORS filter's name, in `http_filters` and as the key of `typed_per_filter_config`.
pub const CORS_FILTER: &str = "envoy.filters.http.cors";

/// The header edits of one `headers` block, in Envoy's terms.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeaderEdits {
    pub request_to_add: Vec<HeaderValueOption>,
    pub request_to_remove: Vec<String>,
    pub response_to_add: Vec<HeaderValueOption>,
    pub response_to_remove: Vec<String>,
    /// A request `set` (else `add`) of `host` or `:authority`: Envoy cannot edit that header,
    /// so Istio rewrites the host instead.
    pub authority: Option<String>,
}

// === impl HeaderEdits ===

impl HeaderEdits {
    /// Istio's translation: `set` replaces (or adds) a header, `add` appends a value, `remove`
    /// drops it; pseudo-headers and `host` are left out of the edits, as Envoy refuses them.
    pub fn new(headers: Option<&Headers>) -> HeaderEdits {
        let request = headers.and_then(|h| h.request.as_ref());
        let response = headers.and_then(|h| h.response.as_ref());
        let mut request_to_add = to_add(request, |o| &o.set, false);
        request_to_add.extend(to_add(request, |o| &o.add, true));
        let mut response_to_add = to_add(response, |o| &o.set, false);
        response_to_add.extend(to_add(response, |o| &o.add, true));
        let authority = |map: fn(&HeaderOperations) -> &BTreeMap<String, String>| {
            request.map(map).and_then(|m| {
                m.iter()
                    .filter(|(k, _)| is_authority(k))
                    .map(|(_, v)| v.clone())
                    .next_back()
            })
        };
        HeaderEdits {
            request_to_add,
            request_to_remove: to_remove(request),
            response_to_add,
            response_to_remove: to_remove(response),
            authority: authority(|o| &o.set).or_else(|| authority(|o| &o.add)),
        }
    }

    /// Appends `other`'s edits after these, so that its `set` wins over an earlier `add`.
    pub fn extend(&mut self, other: HeaderEdits) {
        self.request_to_add.extend(other.request_to_add);
        self.request_to_remove.extend(other.request_to_remove);
        self.response_to_add.extend(other.response_to_add);
        self.response_to_remove.extend(other.response_to_remove);
    }
}

fn to_add(
    ops: Option<&HeaderOperations>,
    map: fn(&HeaderOperations) -> &BTreeMap<String, String>,
    append: bool,
) -> Vec<HeaderValueOption> {
    let action = if append {
        HeaderAppendAction::AppendIfExistsOrAdd
    } else {
        HeaderAppendAction::OverwriteIfExistsOrAdd
    };
    ops.map(map)
        .into_iter()
        .flatten()
        .filter(|(key, _)| !is_internal(key))
        .map(|(key, value)| HeaderValueOption {
            header: Some(HeaderValue {
                key: key.clone(),
                value: value.clone(),
                ..HeaderValue::default()
            }),
            append_action: action as i32,
            ..HeaderValueOption::default()
        })
        .collect()
}

fn to_remove(ops: Option<&HeaderOperations>) -> Vec<String> {
    ops.into_iter()
        .flat_map(|o| &o.remove)
        .filter(|key| !is_internal(key))
        .cloned()
        .collect()
}

/// Headers Envoy keeps to itself.
fn is_internal(key: &str) -> bool {
    key.starts_with(':') || key.eq_ignore_ascii_case("host")
}

fn is_authority(key: &str) -> bool {
    key.eq_ignore_ascii_case(":authority") || key.eq_ignore_ascii_case("host")
}

/// A `redirect` for a request that came in on `port`. `None` for a status Envoy cannot
/// redirect with (validation refuses them first).
///
/// Envoy cannot read the request's port when it redirects, but routes are built per port, so
/// `derivePort: FROM_REQUEST_PORT` is that port; a port that is the scheme's default (80 for
/// `http`, 443 for `https`) is left out of the `Location`, as Istio does.
pub fn redirect(redirect: &HttpRedirect, port: u16) -> Option<RedirectAction> {
    let response_code = match redirect.redirect_code.unwrap_or(301) {
        301 => RedirectResponseCode::MovedPermanently,
        302 => RedirectResponseCode::Found,
        303 => RedirectResponseCode::SeeOther,
        307 => RedirectResponseCode::TemporaryRedirect,
        308 => RedirectResponseCode::PermanentRedirect,
        _ => return None,
    };
    let mut port_redirect = match (redirect.port, redirect.derive_port) {
        (Some(port), _) => port,
        (None, Some(RedirectPortSelection::FromRequestPort)) => u32::from(port),
        (None, Some(RedirectPortSelection::FromProtocolDefault) | None) => 0,
    };
    // Gateways do not terminate TLS yet, so a request without `scheme` came over plain HTTP.
    let scheme = match redirect.scheme.as_str() {
        "" => "http",
        scheme => scheme,
    };
    if (port_redirect == 80 && scheme == "http") || (port_redirect == 443 && scheme == "https") {
        port_redirect = 0;
    }
    Some(RedirectAction {
        host_redirect: redirect.authority.clone(),
        port_redirect,
        response_code: response_code as i32,
        // An empty `uri` keeps the request's path.
        path_rewrite_specifier: Some(redirect.uri.clone())
            .filter(|uri| !uri.is_empty())
            .map(PathRewriteSpecifier::PathRedirect),
        scheme_rewrite_specifier: Some(redirect.scheme.clone())
            .filter(|scheme| !scheme.is_empty())
            .map(SchemeRewriteSpecifier::SchemeRedirect),
        ..RedirectAction::default()
    })
}

/// A `directResponse`. `None` when `body.bytes` is not base64, which the API server would
/// have refused: better no route than a wrong body.
pub fn direct_response(response: &HttpDirectResponse) -> Option<DirectResponseAction> {
    let body = match &response.body {
        None => None,
        Some(HttpBody::String(text)) => Some(Specifier::InlineString(text.clone())),
        Some(HttpBody::Bytes(encoded)) => Some(Specifier::InlineBytes(base64_decode(encoded)?)),
    };
    Some(DirectResponseAction {
        status: response.status,
        body: body.map(|specifier| DataSource {
            specifier: Some(specifier),
            ..DataSource::default()
        }),
        ..DirectResponseAction::default()
    })
}

/// Applies a `rewrite` to the action: `uriRegexRewrite` becomes Envoy's `regex_rewrite`, else
/// `uri` replaces the matched prefix — for an exact match, the whole path, as Envoy's
/// `prefix_rewrite` does; `authority` rewrites the host.
pub fn rewrite(action: &mut RouteAction, rewrite: &HttpRewrite) {
    if let Some(regex) = &rewrite.uri_regex_rewrite {
        action.regex_rewrite = Some(RegexMatchAndSubstitute {
            pattern: Some(RegexMatcher {
                regex: regex.pattern.clone(),
                ..RegexMatcher::default()
            }),
            substitution: regex.rewrite.clone(),
        });
    } else if !rewrite.uri.is_empty() {
        action.prefix_rewrite = rewrite.uri.clone();
    }
    if !rewrite.authority.is_empty() {
        action.host_rewrite_specifier = Some(HostRewriteSpecifier::HostRewriteLiteral(
            rewrite.authority.clone(),
        ));
    }
}

/// Istio's translation of `mirror` (with `mirrorPercentage`, else the deprecated
/// `mirrorPercent`) then each of `mirrors`: a destination resolved like a route's, for the share
/// of requests its percentage gives — every request when none is set, none at `0`.
/// `cluster` resolves a destination to its cluster, as for the route's destinations.
pub fn mirror_policies(
    route: &HttpRoute,
    cluster: impl Fn(&mesh_common::api::Destination) -> String,
) -> Vec<RequestMirrorPolicy> {
    let mirror = route.mirror.as_ref().and_then(|destination| {
        let share = match (&route.mirror_percentage, route.mirror_percent) {
            (Some(percentage), _) => of_a_percentage(percentage)?,
            (None, Some(percent)) => (percent > 0).then(|| of_a_hundred(percent))?,
            (None, None) => of_a_hundred(100),
        };
        Some((destination, share))
    });
    let mirrors = route.mirrors.iter().filter_map(|m| {
        let share = match &m.percentage {
            Some(percentage) => of_a_percentage(percentage)?,
            None => of_a_hundred(100),
        };
        Some((&m.destination, share))
    });
    mirror
        .into_iter()
        .chain(mirrors)
        .map(|(destination, share)| RequestMirrorPolicy {
            cluster: cluster(destination),
            runtime_fraction: Some(RuntimeFractionalPercent {
                default_value: Some(share),
                ..RuntimeFractionalPercent::default()
            }),
            trace_sampled: Some(BoolValue { value: false }),
            ..RequestMirrorPolicy::default()
        })
        .collect()
}

/// A `Percent` above zero, in parts per million; `None` for zero, which mirrors nothing.
fn of_a_percentage(percentage: &Percent) -> Option<FractionalPercent> {
    (percentage.value > 0.0).then(|| of_a_million(percentage))
}

fn of_a_hundred(percent: u32) -> FractionalPercent {
    FractionalPercent {
        numerator: percent,
        denominator: DenominatorType::Hundred as i32,
    }
}

/// The CORS filter of a connection manager: an empty `Cors`, the policies being per route.
pub fn cors_filter() -> HttpFilter {
    HttpFilter {
        name: CORS_FILTER.to_string(),
        config_type: Some(http_filter::ConfigType::TypedConfig(pack_any(
            Cors::default(),
        ))),
        ..HttpFilter::default()
    }
}

/// Istio's translation of a `corsPolicy`: `allowOrigins` as string matchers (else the
/// deprecated `allowOrigin` as exact ones), the lists joined with `,`, `maxAge` in whole
/// seconds, the filter on for every request, and preflights from other origins forwarded
/// unless `unmatchedPreflights` is `IGNORE`.
pub fn cors_policy(cors: &CorsPolicy) -> PbCorsPolicy {
    let allow_origin_string_match = if cors.allow_origins.is_empty() {
        cors.allow_origin
            .iter()
            .map(|origin| StringMatcher {
                match_pattern: Some(string_matcher::MatchPattern::Exact(origin.clone())),
                ..StringMatcher::default()
            })
            .collect()
    } else {
        cors.allow_origins
            .iter()
            .filter_map(string_matcher)
            .collect()
    };
    let max_age = cors
        .max_age
        .as_ref()
        .and_then(|d| d.parse().ok())
        .map(|d| d.as_secs().to_string())
        .unwrap_or_default();
    PbCorsPolicy {
        allow_origin_string_match,
        allow_methods: cors.allow_methods.join(","),
        allow_headers: cors.allow_headers.join(","),
        expose_headers: cors.expose_headers.join(","),
        max_age,
        allow_credentials: cors.allow_credentials.map(|value| BoolValue { value }),
        filter_enabled: Some(RuntimeFractionalPercent {
            default_value: Some(of_a_hundred(100)),
            ..RuntimeFractionalPercent::default()
        }),
        forward_not_matching_preflights: Some(BoolValue {
            value: cors.unmatched_preflights != Some(UnmatchedPreflights::Ignore),
        }),
        ..PbCorsPolicy::default()
    }
}

/// Standard base64 (RFC 4648, padding optional), as protobuf's JSON mapping writes `bytes`.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some(u32::from(c - b'A')),
            b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
            b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
            b'+' | b'-' => Some(62),
            b'/' | b'_' => Some(63),
            _ => None,
        }
    };
    let trimmed = text.trim_end_matches('=');
    if text.len() - trimmed.len() > 2 || trimmed.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(trimmed.len() / 4 * 3 + 2);
    for chunk in trimmed.as_bytes().chunks(4) {
        let mut bits = 0u32;
        for &c in chunk {
            bits = (bits << 6) | digit(c)?;
        }
        bits <<= 6 * (4 - chunk.len());
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests;
