//! Path rewrites: `prefix_rewrite` and `regex_rewrite`, for forwarded requests and redirects.

use envoy_types::pb::envoy::r#type::matcher::v3::RegexMatchAndSubstitute;
use mesh_common::path::FieldPath;
use regex::Regex;

use super::{route_match::PathMatch, string_match::compile_search_regex};
use crate::config_error::FieldError;

/// A compiled path rewrite.
#[derive(Clone, Debug)]
pub enum PathRewrite {
    /// Replace the part of the path the route's `prefix` (or `path`) matched.
    Prefix {
        /// How many leading bytes of the path the route's match covers; `None` when the route
        /// matched the whole path (`path`), whose query is kept.
        matched_len: Option<usize>,
        replacement: String,
    },
    /// Replace every match of `regex` in the path (query excluded) with `substitution`.
    Regex {
        regex: Regex,
        /// In the `regex` crate's syntax (`${1}`), translated from RE2's (`\1`).
        substitution: String,
    },
}

// === impl PathRewrite ===

impl PathRewrite {
    /// A `prefix_rewrite` for a route matched by `path_match`; found at `path`.
    pub fn prefix(
        replacement: &str,
        path_match: &PathMatch,
        path: &FieldPath,
    ) -> Result<Self, FieldError> {
        let matched_len = match path_match {
            PathMatch::Prefix { prefix, .. } | PathMatch::SeparatedPrefix { prefix, .. } => {
                Some(prefix.len())
            }
            PathMatch::Exact { .. } => None,
            PathMatch::Regex(_) | PathMatch::Connect => {
                return Err(FieldError::new(
                    path.clone(),
                    "needs a route matched by prefix, path or path_separated_prefix",
                ));
            }
        };
        Ok(Self::Prefix {
            matched_len,
            replacement: replacement.to_owned(),
        })
    }

    /// A `regex_rewrite` found at `path`.
    pub fn regex(rewrite: &RegexMatchAndSubstitute, path: &FieldPath) -> Result<Self, FieldError> {
        let Some(pattern) = &rewrite.pattern else {
            return Err(FieldError::new(path.field("pattern"), "is required"));
        };
        Ok(Self::Regex {
            regex: compile_search_regex(pattern, &path.field("pattern"))?,
            substitution: translate_substitution(&rewrite.substitution),
        })
    }

    /// The rewritten path and query for a request whose target is `path_and_query`.
    pub fn apply(&self, path_and_query: &str) -> String {
        let split = path_and_query
            .find(['?', '#'])
            .unwrap_or(path_and_query.len());
        match self {
            Self::Prefix {
                matched_len: Some(len),
                replacement,
            } => {
                let rest = path_and_query.get(*len..).unwrap_or_default();
                let mut out = String::with_capacity(replacement.len() + rest.len());
                out.push_str(replacement);
                out.push_str(rest);
                out
            }
            Self::Prefix {
                matched_len: None,
                replacement,
            } => format!("{replacement}{}", &path_and_query[split..]),
            Self::Regex {
                regex,
                substitution,
            } => {
                let (path, rest) = path_and_query.split_at(split);
                format!("{}{rest}", regex.replace_all(path, substitution.as_str()))
            }
        }
    }
}

/// RE2 substitutions write capture groups as `\1`; the `regex` crate as `${1}`, with a literal
/// `$` written `$$`.
fn translate_substitution(re2: &str) -> String {
    let mut out = String::with_capacity(re2.len());
    let mut chars = re2.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' => out.push_str("$$"),
            '\\' => match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    out.push_str("${");
                    out.push(d);
                    out.push('}');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix_match(prefix: &str) -> PathMatch {
        PathMatch::Prefix {
            prefix: prefix.to_owned(),
            case_sensitive: true,
        }
    }

    #[test]
    fn prefix_rewrite_replaces_the_matched_prefix_and_keeps_the_query() {
        let rewrite = PathRewrite::prefix("/v2/", &prefix_match("/api/"), &FieldPath::root())
            .expect("compiles");
        assert_eq!(rewrite.apply("/api/users?id=1"), "/v2/users?id=1");
    }

    #[test]
    fn prefix_rewrite_of_an_exact_path_keeps_the_query() {
        let exact = PathMatch::Exact {
            path: "/old".to_owned(),
            case_sensitive: true,
        };
        let rewrite = PathRewrite::prefix("/new", &exact, &FieldPath::root()).expect("compiles");
        assert_eq!(rewrite.apply("/old?x=1"), "/new?x=1");
    }

    #[test]
    fn regex_rewrite_replaces_every_match_with_re2_groups() {
        let rewrite = PathRewrite::Regex {
            regex: Regex::new("^/service/([^/]+)(/.*)$").expect("valid"),
            substitution: translate_substitution(r"\2/instance/\1"),
        };
        assert_eq!(
            rewrite.apply("/service/foo/v1/api?q=1"),
            "/v1/api/instance/foo?q=1"
        );
        let all = PathRewrite::Regex {
            regex: Regex::new("o").expect("valid"),
            substitution: translate_substitution("$0"),
        };
        assert_eq!(all.apply("/foo/boo"), "/f$0$0/b$0$0");
    }

    #[test]
    fn substitution_translation() {
        assert_eq!(translate_substitution(r"\1-\\-$"), "${1}-\\-$$");
    }
}
