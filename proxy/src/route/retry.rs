//! A route's (or virtual host's) retry policy, carried as data for the retry layer.
//!
//! Refused: `retry_priority`, host predicates other than `previous_hosts`,
//! `retry_options_predicates`, `rate_limited_retry_back_off`, `retriable_headers`,
//! `retriable_request_headers` and `refresh_cluster_on_retry`.

use std::time::Duration;

use envoy_types::pb::{
    envoy::config::route::v3::RetryPolicy as PbRetryPolicy,
    google::protobuf::Duration as PbDuration,
};
use mesh_common::path::FieldPath;

use crate::config_error::{FieldError, reject_if};

/// The host predicate that makes retries avoid hosts already tried — the one Istio sets.
const PREVIOUS_HOSTS: &str = "envoy.retry_host_predicates.previous_hosts";

/// Envoy's default for `base_interval`.
const DEFAULT_BASE_INTERVAL: Duration = Duration::from_millis(25);

/// When and how often to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Envoy's `retry_on` conditions, e.g. `5xx`, `connect-failure`, `retriable-status-codes`.
    pub retry_on: Vec<String>,
    /// Retries after the first attempt (Envoy's default: 1).
    pub num_retries: u32,
    /// The timeout of each attempt, if any.
    pub per_try_timeout: Option<Duration>,
    /// How long an attempt may go without activity, if limited.
    pub per_try_idle_timeout: Option<Duration>,
    /// Status codes retried under `retriable-status-codes`.
    pub retriable_status_codes: Vec<u16>,
    /// The first back-off interval.
    pub base_interval: Duration,
    /// The back-off cap (Envoy's default: ten times the base).
    pub max_interval: Duration,
    /// Whether a retry avoids the hosts already tried (the `previous_hosts` predicate).
    pub avoid_previous_hosts: bool,
    /// How many times to re-pick a host that the predicate rejects.
    pub host_selection_retry_max_attempts: u32,
}

// === impl RetryPolicy ===

impl RetryPolicy {
    /// Compiles a `RetryPolicy` found at `path`.
    pub fn compile(p: &PbRetryPolicy, path: &FieldPath) -> Result<Self, FieldError> {
        reject_if(p.retry_priority.is_some(), path, "retry_priority")?;
        reject_if(
            !p.retry_options_predicates.is_empty(),
            path,
            "retry_options_predicates",
        )?;
        reject_if(
            p.rate_limited_retry_back_off.is_some(),
            path,
            "rate_limited_retry_back_off",
        )?;
        reject_if(!p.retriable_headers.is_empty(), path, "retriable_headers")?;
        reject_if(
            !p.retriable_request_headers.is_empty(),
            path,
            "retriable_request_headers",
        )?;
        reject_if(p.refresh_cluster_on_retry, path, "refresh_cluster_on_retry")?;
        let mut avoid_previous_hosts = false;
        for (i, predicate) in p.retry_host_predicate.iter().enumerate() {
            if predicate.name != PREVIOUS_HOSTS {
                return Err(FieldError::new(
                    path.field("retry_host_predicate").index(i).field("name"),
                    format!(
                        "host predicate {:?} is not supported by mesh-proxy",
                        predicate.name
                    ),
                ));
            }
            avoid_previous_hosts = true;
        }
        let retriable_status_codes = p
            .retriable_status_codes
            .iter()
            .enumerate()
            .map(|(i, code)| match u16::try_from(*code) {
                Ok(code) if (100..600).contains(&code) => Ok(code),
                _ => Err(FieldError::new(
                    path.field("retriable_status_codes").index(i),
                    format!("{code} is not an HTTP status code"),
                )),
            })
            .collect::<Result<_, _>>()?;
        let back_off = p.retry_back_off.as_ref();
        let back_off_path = path.field("retry_back_off");
        let base_interval = match back_off.and_then(|b| b.base_interval.as_ref()) {
            Some(d) => positive(d, &back_off_path.field("base_interval"))?,
            None => DEFAULT_BASE_INTERVAL,
        };
        let max_interval = match back_off.and_then(|b| b.max_interval.as_ref()) {
            Some(d) => positive(d, &back_off_path.field("max_interval"))?,
            None => base_interval.saturating_mul(10),
        };
        if max_interval < base_interval {
            return Err(FieldError::new(
                back_off_path.field("max_interval"),
                "must not be below base_interval",
            ));
        }
        Ok(Self {
            retry_on: p
                .retry_on
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            num_retries: p.num_retries.as_ref().map_or(1, |n| n.value),
            per_try_timeout: optional(p.per_try_timeout.as_ref(), &path.field("per_try_timeout"))?,
            per_try_idle_timeout: optional(
                p.per_try_idle_timeout.as_ref(),
                &path.field("per_try_idle_timeout"),
            )?,
            retriable_status_codes,
            base_interval,
            max_interval,
            avoid_previous_hosts,
            host_selection_retry_max_attempts: u32::try_from(p.host_selection_retry_max_attempts)
                .map_err(|_| {
                FieldError::new(
                    path.field("host_selection_retry_max_attempts"),
                    "must be between 0 and 4294967295",
                )
            })?,
        })
    }
}

/// A protobuf duration as a `Duration`; negative ones are refused.
pub fn duration(d: &PbDuration, path: &FieldPath) -> Result<Duration, FieldError> {
    match (u64::try_from(d.seconds), u32::try_from(d.nanos)) {
        (Ok(seconds), Ok(nanos)) if nanos < 1_000_000_000 => Ok(Duration::new(seconds, nanos)),
        _ => Err(FieldError::new(
            path.clone(),
            format!("{}s{}ns is not a valid duration", d.seconds, d.nanos),
        )),
    }
}

/// An optional duration where zero, as in Envoy, means "no limit".
pub fn optional(d: Option<&PbDuration>, path: &FieldPath) -> Result<Option<Duration>, FieldError> {
    Ok(d.map(|d| duration(d, path))
        .transpose()?
        .filter(|d| !d.is_zero()))
}

fn positive(d: &PbDuration, path: &FieldPath) -> Result<Duration, FieldError> {
    let value = duration(d, path)?;
    if value.is_zero() {
        return Err(FieldError::new(path.clone(), "must be greater than zero"));
    }
    Ok(value)
}
