//! Envoy's fault filter (`envoy.filters.http.fault`, `HTTPFault`): a fixed delay and an abort
//! (an HTTP status or a gRPC status), each for a fraction of requests, as Istio's
//! `VirtualService` `fault` sets them.
//!
//! The filter's own config applies to every route; a route's `typed_per_filter_config` for the
//! filter replaces it. Neither applies unless the connection manager's `http_filters` hold the
//! filter, as in Envoy. The delay comes first, then the abort, each drawn on its own.
//!
//! A `grpc_status` abort answers as Envoy does: a local reply of HTTP 200 carrying that gRPC
//! status, which a gRPC request receives as a trailers-only response (`grpc-status`,
//! `grpc-message: fault filter abort`), and any other request as a plain 200 with the abort body.
//!
//! Refused: `header_delay`, `header_abort`, `upstream_cluster`, `headers`, `downstream_nodes`,
//! `max_active_faults`, `response_rate_limit`, and an abort's `response_body`. Ignored, because
//! they only name runtime overrides or stats: `*_runtime`, `disable_downstream_cluster_stats`,
//! `filter_metadata`.

use std::time::Duration;

use envoy_types::pb::envoy::{
    extensions::filters::{
        common::fault::v3::fault_delay::FaultDelaySecifier,
        http::fault::v3::{HttpFault, fault_abort::ErrorType},
    },
    r#type::v3::{FractionalPercent, fractional_percent::DenominatorType},
};
use http::StatusCode;
use mesh_common::path::FieldPath;
use rand::Rng;

use crate::config_error::{FieldError, reject_if};

/// The filter's name, in `http_filters` and as the key of `typed_per_filter_config`.
pub const FAULT_FILTER: &str = "envoy.filters.http.fault";

/// The body of an aborted request, as Envoy writes it.
pub const ABORT_BODY: &str = "fault filter abort";

/// A compiled `HTTPFault`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fault {
    /// How long to hold the request, and for which share of requests.
    pub delay: Option<(Duration, Fraction)>,
    /// What to answer with instead of forwarding, and for which share of requests.
    pub abort: Option<(Abort, Fraction)>,
}

/// What an abort answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abort {
    /// `http_status`: this HTTP status.
    Http(StatusCode),
    /// `grpc_status`: HTTP 200 with this gRPC status (any value, as Envoy passes it on).
    Grpc(u32),
}

/// A share of requests: `numerator` out of `denominator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fraction {
    pub numerator: u32,
    pub denominator: u32,
}

/// What the fault does to one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Injection {
    pub delay: Option<Duration>,
    pub abort: Option<Abort>,
}

// === impl Fault ===

impl Fault {
    /// Compiles an `HTTPFault` found at `path`.
    pub fn compile(f: &HttpFault, path: &FieldPath) -> Result<Self, FieldError> {
        reject_if(!f.upstream_cluster.is_empty(), path, "upstream_cluster")?;
        reject_if(!f.headers.is_empty(), path, "headers")?;
        reject_if(!f.downstream_nodes.is_empty(), path, "downstream_nodes")?;
        reject_if(f.max_active_faults.is_some(), path, "max_active_faults")?;
        reject_if(f.response_rate_limit.is_some(), path, "response_rate_limit")?;
        let delay = match &f.delay {
            None => None,
            Some(d) => {
                let path = path.field("delay");
                let duration = match &d.fault_delay_secifier {
                    Some(FaultDelaySecifier::FixedDelay(fixed)) => {
                        let fixed_path = path.field("fixed_delay");
                        match (u64::try_from(fixed.seconds), u32::try_from(fixed.nanos)) {
                            (Ok(s), Ok(n)) if n < 1_000_000_000 => Duration::new(s, n),
                            _ => {
                                return Err(FieldError::new(
                                    fixed_path,
                                    "must be a non-negative duration",
                                ));
                            }
                        }
                    }
                    Some(FaultDelaySecifier::HeaderDelay(_)) => {
                        return Err(FieldError::unsupported(path.field("header_delay")));
                    }
                    None => return Err(FieldError::new(path.field("fixed_delay"), "is required")),
                };
                let share = Fraction::compile(d.percentage.as_ref(), &path.field("percentage"))?;
                Some((duration, share))
            }
        };
        let abort = match &f.abort {
            None => None,
            Some(a) => {
                let path = path.field("abort");
                reject_if(!a.response_body.is_empty(), &path, "response_body")?;
                let abort = match &a.error_type {
                    Some(ErrorType::HttpStatus(code)) => u16::try_from(*code)
                        .ok()
                        .filter(|c| (200..600).contains(c))
                        .and_then(|c| StatusCode::from_u16(c).ok())
                        .ok_or_else(|| {
                            FieldError::new(
                                path.field("http_status"),
                                format!("{code} is not an HTTP status from 200 to 599"),
                            )
                        })
                        .map(Abort::Http)?,
                    Some(ErrorType::GrpcStatus(code)) => Abort::Grpc(*code),
                    Some(ErrorType::HeaderAbort(_)) => {
                        return Err(FieldError::unsupported(path.field("header_abort")));
                    }
                    None => return Err(FieldError::new(path.field("http_status"), "is required")),
                };
                let share = Fraction::compile(a.percentage.as_ref(), &path.field("percentage"))?;
                Some((abort, share))
            }
        };
        Ok(Self { delay, abort })
    }

    /// Draws what happens to one request.
    pub fn inject(&self, rng: &mut impl Rng) -> Injection {
        Injection {
            delay: self
                .delay
                .filter(|(_, share)| share.draw(rng))
                .map(|(d, _)| d),
            abort: self
                .abort
                .filter(|(_, share)| share.draw(rng))
                .map(|(s, _)| s),
        }
    }
}

// === impl Fraction ===

impl Fraction {
    /// No request: Envoy reads an unset `percentage` as 0/100.
    pub const NONE: Self = Self {
        numerator: 0,
        denominator: 100,
    };

    /// Every request.
    pub const ALL: Self = Self {
        numerator: 100,
        denominator: 100,
    };

    pub(super) fn compile(
        p: Option<&FractionalPercent>,
        path: &FieldPath,
    ) -> Result<Self, FieldError> {
        let Some(p) = p else {
            return Ok(Self::NONE);
        };
        let denominator = match DenominatorType::try_from(p.denominator) {
            Ok(DenominatorType::Hundred) => 100,
            Ok(DenominatorType::TenThousand) => 10_000,
            Ok(DenominatorType::Million) => 1_000_000,
            Err(_) => {
                return Err(FieldError::new(
                    path.field("denominator"),
                    format!("unknown value {}", p.denominator),
                ));
            }
        };
        // A numerator above the denominator means every request, as in Envoy.
        Ok(Self {
            numerator: p.numerator.min(denominator),
            denominator,
        })
    }

    pub(super) fn draw(self, rng: &mut impl Rng) -> bool {
        self.numerator > 0 && rng.random_range(0..self.denominator) < self.numerator
    }
}

#[cfg(test)]
mod tests;
