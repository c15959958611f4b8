//! A route's `match`: path, headers, query parameters and gRPC, compiled once.
//!
//! Fields of `RouteMatch` that are refused: `runtime_fraction`, `cookies`, `tls_context`,
//! `dynamic_metadata`, `filter_state`, and the `path_match_policy` path specifier.

use std::borrow::Cow;

use envoy_types::pb::envoy::config::route::v3::{
    HeaderMatcher, QueryParameterMatcher, RouteMatch, header_matcher::HeaderMatchSpecifier,
    query_parameter_matcher::QueryParameterMatchSpecifier, route_match::PathSpecifier,
};
use mesh_common::path::FieldPath;
use regex::Regex;

use super::{
    request::RequestMeta,
    string_match::{StringMatch, compile_regex},
};
use crate::config_error::{FieldError, reject_if};

/// A compiled `RouteMatch`: every part must match.
#[derive(Clone, Debug)]
pub struct RouteMatcher {
    path: PathMatch,
    headers: Vec<HeaderMatch>,
    query: Vec<QueryMatch>,
    grpc: bool,
}

/// How a route matches the path.
#[derive(Clone, Debug)]
pub enum PathMatch {
    /// The path (query included, as Envoy does) starts with this prefix.
    Prefix {
        prefix: String,
        case_sensitive: bool,
    },
    /// The path without its query equals this one.
    Exact { path: String, case_sensitive: bool },
    /// The path without its query equals the prefix or continues it with `/`.
    SeparatedPrefix {
        prefix: String,
        case_sensitive: bool,
    },
    /// The path without its query matches the regex entirely.
    Regex(Regex),
    /// The request is a `CONNECT`.
    Connect,
}

/// A compiled `HeaderMatcher`.
#[derive(Clone, Debug)]
pub struct HeaderMatch {
    name: HeaderSource,
    kind: HeaderMatchKind,
    invert: bool,
    treat_missing_as_empty: bool,
}

/// What a header matcher reads: a header, or one of the HTTP/2 pseudo-headers Envoy matches
/// for HTTP/1.1 requests too (Istio matches `method` on `:method`).
#[derive(Clone, Debug)]
enum HeaderSource {
    Header(http::HeaderName),
    Method,
    Authority,
    Path,
    Scheme,
}

#[derive(Clone, Debug)]
enum HeaderMatchKind {
    String(StringMatch),
    Present(bool),
    /// `[start, end)` over the value parsed as an integer.
    Range {
        start: i64,
        end: i64,
    },
}

/// A compiled `QueryParameterMatcher`.
#[derive(Clone, Debug)]
pub struct QueryMatch {
    name: String,
    kind: QueryMatchKind,
}

#[derive(Clone, Debug)]
enum QueryMatchKind {
    String(StringMatch),
    Present(bool),
}

// === impl RouteMatcher ===

impl RouteMatcher {
    /// Compiles a route's `match`, found at `path`.
    pub fn compile(m: &RouteMatch, path: &FieldPath) -> Result<Self, FieldError> {
        reject_if(m.runtime_fraction.is_some(), path, "runtime_fraction")?;
        reject_if(!m.cookies.is_empty(), path, "cookies")?;
        reject_if(m.tls_context.is_some(), path, "tls_context")?;
        reject_if(!m.dynamic_metadata.is_empty(), path, "dynamic_metadata")?;
        reject_if(!m.filter_state.is_empty(), path, "filter_state")?;
        let case_sensitive = m.case_sensitive.as_ref().is_none_or(|b| b.value);
        let path_match = match &m.path_specifier {
            Some(PathSpecifier::Prefix(prefix)) => PathMatch::Prefix {
                prefix: prefix.clone(),
                case_sensitive,
            },
            Some(PathSpecifier::Path(exact)) => PathMatch::Exact {
                path: exact.clone(),
                case_sensitive,
            },
            Some(PathSpecifier::PathSeparatedPrefix(prefix)) => {
                let field = path.field("path_separated_prefix");
                if !prefix.starts_with('/') || prefix.contains(['?', '#']) {
                    return Err(FieldError::new(
                        field,
                        format!("{prefix:?} must start with '/' and contain no '?' or '#'"),
                    ));
                }
                if prefix.len() > 1 && prefix.ends_with('/') {
                    return Err(FieldError::new(
                        field,
                        format!("{prefix:?} must not end with '/'"),
                    ));
                }
                PathMatch::SeparatedPrefix {
                    prefix: prefix.clone(),
                    case_sensitive,
                }
            }
            Some(PathSpecifier::SafeRegex(regex)) => {
                PathMatch::Regex(compile_regex(regex, &path.field("safe_regex"))?)
            }
            Some(PathSpecifier::ConnectMatcher(_)) => PathMatch::Connect,
            Some(PathSpecifier::PathMatchPolicy(_)) => {
                return Err(FieldError::unsupported(path.field("path_match_policy")));
            }
            None => {
                return Err(FieldError::new(
                    path.clone(),
                    "one of prefix, path, safe_regex, path_separated_prefix or connect_matcher \
                     is required",
                ));
            }
        };
        let headers = m
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| HeaderMatch::compile(h, &path.field("headers").index(i)))
            .collect::<Result<_, _>>()?;
        let query = m
            .query_parameters
            .iter()
            .enumerate()
            .map(|(i, q)| QueryMatch::compile(q, &path.field("query_parameters").index(i)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            path: path_match,
            headers,
            query,
            grpc: m.grpc.is_some(),
        })
    }

    /// How this route matches the path; rewrites depend on it.
    pub fn path_match(&self) -> &PathMatch {
        &self.path
    }

    /// Whether the request matches every part.
    pub fn matches(&self, req: &RequestMeta<'_>) -> bool {
        self.path.matches(req)
            && (!self.grpc || req.is_grpc())
            && self.headers.iter().all(|h| h.matches(req))
            && self.query.iter().all(|q| q.matches(req))
    }
}

// === impl PathMatch ===

impl PathMatch {
    fn matches(&self, req: &RequestMeta<'_>) -> bool {
        match self {
            Self::Prefix {
                prefix,
                case_sensitive,
            } => starts_with(req.path_and_query, prefix, *case_sensitive),
            Self::Exact {
                path,
                case_sensitive,
            } => {
                let actual = req.path();
                actual.len() == path.len() && starts_with(actual, path, *case_sensitive)
            }
            Self::SeparatedPrefix {
                prefix,
                case_sensitive,
            } => {
                let actual = req.path();
                starts_with(actual, prefix, *case_sensitive)
                    && matches!(actual.as_bytes().get(prefix.len()), None | Some(b'/'))
            }
            Self::Regex(regex) => regex.is_match(req.path()),
            Self::Connect => req.method == http::Method::CONNECT,
        }
    }
}

fn starts_with(value: &str, prefix: &str, case_sensitive: bool) -> bool {
    value.as_bytes().get(..prefix.len()).is_some_and(|head| {
        if case_sensitive {
            head == prefix.as_bytes()
        } else {
            head.eq_ignore_ascii_case(prefix.as_bytes())
        }
    })
}

// === impl HeaderMatch ===

impl HeaderMatch {
    /// Compiles a `HeaderMatcher` found at `path`. The deprecated direct fields
    /// (`exact_match`, `prefix_match`, …) are read as the `string_match` they stand for.
    #[allow(deprecated)]
    pub fn compile(h: &HeaderMatcher, path: &FieldPath) -> Result<Self, FieldError> {
        let name = match h.name.as_str() {
            ":method" => HeaderSource::Method,
            ":authority" => HeaderSource::Authority,
            ":path" => HeaderSource::Path,
            ":scheme" => HeaderSource::Scheme,
            name => HeaderSource::Header(http::HeaderName::from_bytes(name.as_bytes()).map_err(
                |_| {
                    FieldError::new(
                        path.field("name"),
                        format!("{:?} is not a valid header name", h.name),
                    )
                },
            )?),
        };
        // The deprecated direct fields are case-sensitive `string_match`es; all but `exact_match`
        // must be non-empty.
        let legacy = |field: &str, value: &str, make: fn(String) -> StringMatch| {
            if value.is_empty() && field != "exact_match" {
                return Err(FieldError::new(path.field(field), "must not be empty"));
            }
            Ok(HeaderMatchKind::String(make(value.to_owned())))
        };
        let kind = match &h.header_match_specifier {
            // Envoy treats a matcher with no specifier as "the header is present".
            None => HeaderMatchKind::Present(true),
            Some(HeaderMatchSpecifier::PresentMatch(present)) => HeaderMatchKind::Present(*present),
            Some(HeaderMatchSpecifier::StringMatch(sm)) => {
                HeaderMatchKind::String(StringMatch::compile(sm, &path.field("string_match"))?)
            }
            Some(HeaderMatchSpecifier::ExactMatch(v)) => {
                legacy("exact_match", v, |value| StringMatch::Exact {
                    value,
                    ignore_case: false,
                })?
            }
            Some(HeaderMatchSpecifier::PrefixMatch(v)) => {
                legacy("prefix_match", v, |value| StringMatch::Prefix {
                    value,
                    ignore_case: false,
                })?
            }
            Some(HeaderMatchSpecifier::SuffixMatch(v)) => {
                legacy("suffix_match", v, |value| StringMatch::Suffix {
                    value,
                    ignore_case: false,
                })?
            }
            Some(HeaderMatchSpecifier::ContainsMatch(v)) => {
                legacy("contains_match", v, |value| StringMatch::Contains {
                    value,
                    ignore_case: false,
                })?
            }
            Some(HeaderMatchSpecifier::SafeRegexMatch(regex)) => HeaderMatchKind::String(
                StringMatch::Regex(compile_regex(regex, &path.field("safe_regex_match"))?),
            ),
            Some(HeaderMatchSpecifier::RangeMatch(range)) => {
                if range.start >= range.end {
                    return Err(FieldError::new(
                        path.field("range_match"),
                        format!("start {} must be below end {}", range.start, range.end),
                    ));
                }
                HeaderMatchKind::Range {
                    start: range.start,
                    end: range.end,
                }
            }
        };
        Ok(Self {
            name,
            kind,
            invert: h.invert_match,
            treat_missing_as_empty: h.treat_missing_header_as_empty,
        })
    }

    /// Whether `headers` satisfy this matcher, with Envoy's rules for absent headers: a
    /// missing header matches nothing but `present_match: false` (or, inverted,
    /// `present_match: true`) unless `treat_missing_header_as_empty` is set.
    pub fn matches(&self, req: &RequestMeta<'_>) -> bool {
        let pseudo = |value: &'_ str| Some(Some(Cow::Owned(value.to_owned())));
        let value = match &self.name {
            HeaderSource::Header(name) => joined_value(req.headers, name),
            HeaderSource::Method => Some(Some(Cow::Borrowed(req.method.as_str()))),
            HeaderSource::Authority => pseudo(req.authority),
            HeaderSource::Path => pseudo(req.path_and_query),
            // Requests reach the router in plaintext: TLS is not terminated by the proxy.
            HeaderSource::Scheme => Some(Some(Cow::Borrowed("http"))),
        };
        let Some(value) = value else {
            if self.treat_missing_as_empty {
                return self.matches_value(Some("")) != self.invert;
            }
            return matches!(self.kind, HeaderMatchKind::Present(present) if present == self.invert);
        };
        self.matches_value(value.as_deref()) != self.invert
    }

    /// `value` is `None` when the header is present but not valid UTF-8.
    fn matches_value(&self, value: Option<&str>) -> bool {
        match (&self.kind, value) {
            (HeaderMatchKind::Present(present), _) => *present,
            (HeaderMatchKind::String(m), Some(value)) => m.matches(value),
            (HeaderMatchKind::Range { start, end }, Some(value)) => value
                .parse::<i64>()
                .is_ok_and(|n| (*start..*end).contains(&n)),
            (_, None) => false,
        }
    }
}

/// All values of a header joined with `,`, as Envoy matches them. Borrowed in the common case
/// of a single value; `Some(None)` for a value that is not UTF-8.
fn joined_value<'h>(
    headers: &'h http::HeaderMap,
    name: &http::HeaderName,
) -> Option<Option<Cow<'h, str>>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let Some(second) = values.next() else {
        return Some(
            std::str::from_utf8(first.as_bytes())
                .ok()
                .map(Cow::Borrowed),
        );
    };
    let mut joined = Vec::from(first.as_bytes());
    for value in std::iter::once(second).chain(values) {
        joined.push(b',');
        joined.extend_from_slice(value.as_bytes());
    }
    Some(String::from_utf8(joined).ok().map(Cow::Owned))
}

// === impl QueryMatch ===

impl QueryMatch {
    /// Compiles a `QueryParameterMatcher` found at `path`.
    pub fn compile(q: &QueryParameterMatcher, path: &FieldPath) -> Result<Self, FieldError> {
        if q.name.is_empty() {
            return Err(FieldError::new(path.field("name"), "must not be empty"));
        }
        let kind = match &q.query_parameter_match_specifier {
            Some(QueryParameterMatchSpecifier::StringMatch(sm)) => {
                QueryMatchKind::String(StringMatch::compile(sm, &path.field("string_match"))?)
            }
            Some(QueryParameterMatchSpecifier::PresentMatch(present)) => {
                QueryMatchKind::Present(*present)
            }
            // Envoy treats a matcher with no specifier as "the parameter is present".
            None => QueryMatchKind::Present(true),
        };
        Ok(Self {
            name: q.name.clone(),
            kind,
        })
    }

    fn matches(&self, req: &RequestMeta<'_>) -> bool {
        let value = req.query_param(&self.name);
        match &self.kind {
            QueryMatchKind::Present(present) => value.is_some() == *present,
            QueryMatchKind::String(m) => value.is_some_and(|v| m.matches(v)),
        }
    }
}
