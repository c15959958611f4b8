//! Envoy's `StringMatcher` and `RegexMatcher`, compiled once.

use envoy_types::pb::envoy::r#type::matcher::v3::{
    RegexMatcher, StringMatcher, string_matcher::MatchPattern,
};
use mesh_common::path::FieldPath;
use regex::Regex;

use crate::config_error::FieldError;

/// A compiled `StringMatcher`. `ignore_case` folds ASCII only, as Envoy does.
#[derive(Clone, Debug)]
pub enum StringMatch {
    /// The whole value equals the pattern.
    Exact { value: String, ignore_case: bool },
    /// The value starts with the pattern.
    Prefix { value: String, ignore_case: bool },
    /// The value ends with the pattern.
    Suffix { value: String, ignore_case: bool },
    /// The value contains the pattern (kept lower-cased when `ignore_case`).
    Contains { value: String, ignore_case: bool },
    /// The whole value matches the regex (RE2 `FullMatch` semantics).
    Regex(Regex),
}

// === impl StringMatch ===

impl StringMatch {
    /// Compiles a `StringMatcher` found at `path`.
    pub fn compile(matcher: &StringMatcher, path: &FieldPath) -> Result<Self, FieldError> {
        let ignore_case = matcher.ignore_case;
        let non_empty = |value: &str, field: &str| {
            if value.is_empty() {
                return Err(FieldError::new(path.field(field), "must not be empty"));
            }
            Ok(value.to_owned())
        };
        Ok(match &matcher.match_pattern {
            Some(MatchPattern::Exact(value)) => Self::Exact {
                value: value.clone(),
                ignore_case,
            },
            Some(MatchPattern::Prefix(value)) => Self::Prefix {
                value: non_empty(value, "prefix")?,
                ignore_case,
            },
            Some(MatchPattern::Suffix(value)) => Self::Suffix {
                value: non_empty(value, "suffix")?,
                ignore_case,
            },
            Some(MatchPattern::Contains(value)) => {
                let value = non_empty(value, "contains")?;
                Self::Contains {
                    value: if ignore_case {
                        value.to_ascii_lowercase()
                    } else {
                        value
                    },
                    ignore_case,
                }
            }
            Some(MatchPattern::SafeRegex(regex)) => {
                Self::Regex(compile_regex(regex, &path.field("safe_regex"))?)
            }
            Some(MatchPattern::Custom(_)) => {
                return Err(FieldError::unsupported(path.field("custom")));
            }
            None => {
                return Err(FieldError::new(
                    path.clone(),
                    "one of exact, prefix, suffix, contains or safe_regex is required",
                ));
            }
        })
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact {
                value: p,
                ignore_case,
            } => eq(value.as_bytes(), p.as_bytes(), *ignore_case),
            Self::Prefix {
                value: p,
                ignore_case,
            } => value
                .as_bytes()
                .get(..p.len())
                .is_some_and(|head| eq(head, p.as_bytes(), *ignore_case)),
            Self::Suffix {
                value: p,
                ignore_case,
            } => value
                .len()
                .checked_sub(p.len())
                .and_then(|start| value.as_bytes().get(start..))
                .is_some_and(|tail| eq(tail, p.as_bytes(), *ignore_case)),
            Self::Contains {
                value: p,
                ignore_case: false,
            } => value.contains(p.as_str()),
            Self::Contains {
                value: p,
                ignore_case: true,
            } => value
                .as_bytes()
                .windows(p.len())
                .any(|window| window.eq_ignore_ascii_case(p.as_bytes())),
            Self::Regex(regex) => regex.is_match(value),
        }
    }
}

fn eq(a: &[u8], b: &[u8], ignore_case: bool) -> bool {
    if ignore_case {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Compiles a `RegexMatcher` anchored at both ends, since Envoy's `safe_regex` must match the
/// whole value.
pub fn compile_regex(matcher: &RegexMatcher, path: &FieldPath) -> Result<Regex, FieldError> {
    compile_pattern(&format!("^(?:{})$", matcher.regex), &matcher.regex, path)
}

/// Compiles a `RegexMatcher` unanchored, for rewrites that replace every match.
pub fn compile_search_regex(matcher: &RegexMatcher, path: &FieldPath) -> Result<Regex, FieldError> {
    compile_pattern(&matcher.regex, &matcher.regex, path)
}

fn compile_pattern(pattern: &str, original: &str, path: &FieldPath) -> Result<Regex, FieldError> {
    Regex::new(pattern).map_err(|error| {
        // The regex crate's message spans several lines with a caret diagram; a NACK detail
        // reads better on one.
        let detail = match &error {
            regex::Error::Syntax(text) => text
                .lines()
                .last()
                .unwrap_or_default()
                .trim()
                .trim_start_matches("error: ")
                .to_owned(),
            other => other.to_string(),
        };
        FieldError::new(
            path.clone(),
            format!("regex {original:?} does not compile: {detail}"),
        )
    })
}
