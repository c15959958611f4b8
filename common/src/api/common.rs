//! Building blocks shared by several kinds: string matches, durations, percentages, selectors.

use std::{borrow::Cow, collections::BTreeMap, fmt, time};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// Istio's `StringMatch`: one of `exact`, `prefix` or `regex` (RE2 syntax). Istio writes it as
/// a protobuf `oneof`; it is a struct here so that a document setting two of them is reported by
/// validation with its path rather than failing to parse, and so that `{}` — which Istio reads as
/// "the header or parameter is present" — can be written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct StringMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// What a [`StringMatch`] asks for, once it is known to set at most one pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StringPattern<'a> {
    /// `{}`: any value, as long as there is one.
    Present,
    Exact(&'a str),
    Prefix(&'a str),
    Regex(&'a str),
}

/// A duration as Istio writes it (`1.5s`, `100ms`, `1m30s`): kept as written, parsed on use,
/// so that validation reports a bad value with its field path instead of failing the whole
/// document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Duration(pub String);

/// Why a [`Duration`] could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {value:?}: {reason} (write it like \"1.5s\", \"100ms\" or \"1m30s\")")]
pub struct DurationError {
    pub value: String,
    pub reason: &'static str,
}

/// A percentage in `[0, 100]`, as `{value: 12.5}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Percent {
    #[serde(default)]
    pub value: f64,
}

/// Selects workloads by their labels, as the security kinds and DestinationRule write it
/// (`matchLabels`; Istio's `istio.type.v1beta1.WorkloadSelector`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

/// Selects workloads by their labels, as Sidecar and ServiceEntry write it (`labels`; Istio's
/// `networking.v1alpha3.WorkloadSelector`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadLabels {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// Names a resource that a policy attaches to (a Gateway API Gateway, a Service, …).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyTargetReference {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// A port chosen by number.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PortSelector {
    #[serde(default)]
    pub number: u32,
}

/// The `status` that Istio's controllers write (conditions, validation messages, observed
/// generation). mesh.rs does not interpret it, but keeps it whole so that nothing is lost when a
/// resource is read and written back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IstioStatus(pub serde_json::Map<String, serde_json::Value>);

// === impl StringMatch ===

impl StringMatch {
    pub fn exact(value: impl Into<String>) -> Self {
        Self {
            exact: Some(value.into()),
            ..Self::default()
        }
    }

    pub fn prefix(value: impl Into<String>) -> Self {
        Self {
            prefix: Some(value.into()),
            ..Self::default()
        }
    }

    pub fn regex(value: impl Into<String>) -> Self {
        Self {
            regex: Some(value.into()),
            ..Self::default()
        }
    }

    /// The one pattern this match sets, or the names of the fields when it sets more than one.
    pub fn pattern(&self) -> Result<StringPattern<'_>, Vec<&'static str>> {
        let set: Vec<(&'static str, StringPattern<'_>)> = [
            self.exact
                .as_deref()
                .map(|v| ("exact", StringPattern::Exact(v))),
            self.prefix
                .as_deref()
                .map(|v| ("prefix", StringPattern::Prefix(v))),
            self.regex
                .as_deref()
                .map(|v| ("regex", StringPattern::Regex(v))),
        ]
        .into_iter()
        .flatten()
        .collect();
        match set[..] {
            [] => Ok(StringPattern::Present),
            [(_, pattern)] => Ok(pattern),
            _ => Err(set.into_iter().map(|(name, _)| name).collect()),
        }
    }
}

// === impl Duration ===

impl Duration {
    /// Reads the duration: a sequence of decimal numbers, each with a unit
    /// (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), as Go's `time.ParseDuration` and Istio accept.
    /// Negative durations are rejected: nothing in the mesh waits a negative time.
    pub fn parse(&self) -> Result<time::Duration, DurationError> {
        parse_duration(&self.0)
    }
}

impl From<&str> for Duration {
    fn from(value: &str) -> Self {
        Self(value.to_string())
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// === impl IstioStatus ===

impl JsonSchema for IstioStatus {
    fn schema_name() -> Cow<'static, str> {
        "IstioStatus".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
    }
}

fn parse_duration(text: &str) -> Result<time::Duration, DurationError> {
    let fail = |reason| DurationError {
        value: text.to_string(),
        reason,
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(fail("it is empty"));
    }
    if rest.starts_with('-') {
        return Err(fail("it is negative"));
    }
    rest = rest.strip_prefix('+').unwrap_or(rest);
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| fail("a number has no unit"))?;
        if number_len == 0 {
            return Err(fail("expected a number"));
        }
        let number: f64 = rest[..number_len]
            .parse()
            .map_err(|_| fail("a number is malformed"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds_per_unit = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(fail("unknown unit")),
        };
        rest = &rest[unit_len..];
        total += number * seconds_per_unit;
    }
    time::Duration::try_from_secs_f64(total).map_err(|_| fail("it is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_istio_writes_them() {
        let ok = |s: &str, ms: u64| {
            assert_eq!(
                Duration::from(s).parse(),
                Ok(time::Duration::from_millis(ms)),
                "{s}"
            )
        };
        ok("1.5s", 1500);
        ok("100ms", 100);
        ok("1m30s", 90_000);
        ok("2h", 7_200_000);
        ok("0s", 0);
        ok("+3s", 3000);
        assert_eq!(
            Duration::from("250us").parse(),
            Ok(time::Duration::from_micros(250))
        );
    }

    #[test]
    fn bad_durations_say_why() {
        let reason = |s: &str| Duration::from(s).parse().unwrap_err().reason;
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason("10"), "a number has no unit");
        assert_eq!(reason("-1s"), "it is negative");
        assert_eq!(reason("5 sec"), "unknown unit");
        assert_eq!(reason("s"), "expected a number");
        assert_eq!(reason("1..2s"), "a number is malformed");
        let message = Duration::from("abc").parse().unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid duration \"abc\": expected a number (write it like \"1.5s\", \"100ms\" or \"1m30s\")"
        );
    }
}
