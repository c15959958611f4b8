//! A VirtualService HTTP rule's `fault` as Envoy's fault filter (`HTTPFault`), and the filter
//! itself, which every connection manager that routes by VirtualService holds before the
//! router, as Istio installs it. The filter's own config is empty, so it faults nothing: each
//! route that has a `fault` carries its config in `typed_per_filter_config`.

use envoy_types::pb::envoy::{
    extensions::filters::{
        common::fault::v3::{FaultDelay, fault_delay::FaultDelaySecifier},
        http::fault::v3::{FaultAbort, HttpFault, fault_abort::ErrorType},
        network::http_connection_manager::v3::{HttpFilter, http_filter},
    },
    r#type::v3::{FractionalPercent, fractional_percent::DenominatorType},
};
use envoy_types::util::pack_any;
use mesh_common::{
    api::{self, HttpFaultInjection, Percent},
    validate::grpc_status_code,
};

use super::duration;

/// The filter's name, in `http_filters` and as the key of a route's `typed_per_filter_config`.
pub const FAULT_FILTER: &str = "envoy.filters.http.fault";

/// The fault filter of a connection manager, with an empty config.
pub fn filter() -> HttpFilter {
    HttpFilter {
        name: FAULT_FILTER.to_string(),
        config_type: Some(http_filter::ConfigType::TypedConfig(pack_any(
            HttpFault::default(),
        ))),
        ..HttpFilter::default()
    }
}

/// Istio's translation of a rule's `fault`: a fixed delay and an abort with an HTTP status or a
/// gRPC status (its name, `UNAVAILABLE`, as its code, 14), each for the share of requests its
/// `percentage` gives. A delay without `fixedDelay` (an exponential one) and an abort with
/// neither status (an HTTP/2 error) are left out, as Istio leaves out what it cannot build;
/// `None` when nothing is left.
///
/// As in Istio, an unset `percentage` faults no request: an abort then gets no percentage at
/// all, which Envoy reads as zero, and a delay falls back to the deprecated integer `percent`
/// (zero when unset too).
pub fn http_fault(fault: &HttpFaultInjection) -> Option<HttpFault> {
    let delay = fault.delay.as_ref().and_then(delay);
    let abort = fault.abort.as_ref().and_then(abort);
    if delay.is_none() && abort.is_none() {
        return None;
    }
    Some(HttpFault {
        delay,
        abort,
        ..HttpFault::default()
    })
}

fn delay(delay: &api::FaultDelay) -> Option<FaultDelay> {
    let fixed: std::time::Duration = delay.fixed_delay.as_ref()?.parse().ok()?;
    let percentage = match &delay.percentage {
        Some(percentage) => of_a_million(percentage),
        None => FractionalPercent {
            numerator: delay
                .percent
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0),
            denominator: DenominatorType::Hundred as i32,
        },
    };
    Some(FaultDelay {
        percentage: Some(percentage),
        fault_delay_secifier: Some(FaultDelaySecifier::FixedDelay(duration(fixed))),
    })
}

fn abort(abort: &api::FaultAbort) -> Option<FaultAbort> {
    // Validation lets only one be set, and only a known gRPC status name.
    let error_type = match abort.http_status {
        Some(status) => ErrorType::HttpStatus(u32::try_from(status).ok()?),
        None => ErrorType::GrpcStatus(grpc_status_code(&abort.grpc_status)?),
    };
    Some(FaultAbort {
        percentage: abort.percentage.as_ref().map(of_a_million),
        error_type: Some(error_type),
        ..FaultAbort::default()
    })
}

/// A percentage in `[0, 100]` as parts per million, so that `0.1` keeps its precision.
pub(super) fn of_a_million(percent: &Percent) -> FractionalPercent {
    // `as` saturates (and takes NaN to 0); validation keeps the value in range anyway.
    let numerator = (percent.value * 10_000.0) as u32;
    FractionalPercent {
        numerator,
        denominator: DenominatorType::Million as i32,
    }
}

#[cfg(test)]
mod tests;
