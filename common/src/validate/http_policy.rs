//! The policies of an HTTP rule: retries, fault injection, mirroring and CORS.

use super::{
    common::{self, Findings},
    headers, virtual_service,
};
use crate::{
    api::{CorsPolicy, FaultAbort, FaultDelay, HttpFaultInjection, HttpRetry, HttpRoute},
    path::FieldPath,
};

/// The conditions Envoy retries on (`x-envoy-retry-on` and `x-envoy-retry-grpc-on`).
const RETRY_ON: &[&str] = &[
    "5xx",
    "gateway-error",
    "reset",
    "reset-before-request",
    "connect-failure",
    "retriable-4xx",
    "refused-stream",
    "retriable-status-codes",
    "retriable-headers",
    "envoy-ratelimited",
    "http3-post-connect-failure",
    "cancelled",
    "deadline-exceeded",
    "internal",
    "resource-exhausted",
    "unavailable",
];

/// gRPC's status names, each at the index of its code (`OK` is 0, `UNAUTHENTICATED` 16), as
/// Istio's `SupportedGRPCStatus` lists them.
const GRPC_STATUSES: &[&str] = &[
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The code of a gRPC status named as in a fault's `grpcStatus` (`"UNAVAILABLE"` → 14).
pub fn grpc_status_code(name: &str) -> Option<u32> {
    let index = GRPC_STATUSES.iter().position(|s| *s == name)?;
    u32::try_from(index).ok()
}

pub(super) fn validate(findings: &mut Findings, path: &FieldPath, route: &HttpRoute) {
    if let Some(retries) = &route.retries {
        self::retries(findings, &path.field("retries"), retries);
    }
    if let Some(fault) = &route.fault {
        self::fault(findings, &path.field("fault"), fault);
    }
    mirrors(findings, path, route);
    if let Some(cors) = &route.cors_policy {
        self::cors(findings, &path.field("corsPolicy"), cors);
    }
}

fn retries(findings: &mut Findings, path: &FieldPath, retries: &HttpRetry) {
    if retries.attempts < 0 {
        findings.error(
            &path.field("attempts"),
            format!(
                "attempts {} is negative: use 0 to disable retries",
                retries.attempts
            ),
        );
    }
    if retries.attempts == 0 {
        let set: Vec<&str> = [
            ("perTryTimeout", retries.per_try_timeout.is_some()),
            ("retryOn", !retries.retry_on.is_empty()),
            (
                "retryRemoteLocalities",
                retries.retry_remote_localities.is_some(),
            ),
            ("backoff", retries.backoff.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if !set.is_empty() {
            findings.error(
                &path.field("attempts"),
                format!(
                    "retries are disabled (attempts is 0): set attempts, or remove {}",
                    common::enumerate(&set)
                ),
            );
        }
    }
    if let Some(timeout) = &retries.per_try_timeout {
        findings.check(&path.field("perTryTimeout"), common::duration(timeout));
    }
    if let Some(backoff) = &retries.backoff {
        findings.check(&path.field("backoff"), common::duration(backoff));
    }
    if !retries.retry_on.is_empty() {
        for condition in retries.retry_on.split(',').map(str::trim) {
            let status = condition
                .parse::<u16>()
                .is_ok_and(|code| (100..=599).contains(&code));
            if !status && !RETRY_ON.contains(&condition) {
                findings.error(
                    &path.field("retryOn"),
                    format!(
                        "retryOn condition {condition:?} is unknown: use Envoy's conditions (5xx, gateway-error, reset, connect-failure, retriable-4xx, refused-stream, retriable-status-codes, ...) or HTTP status codes, separated by ','"
                    ),
                );
            }
        }
    }
}

fn fault(findings: &mut Findings, path: &FieldPath, fault: &HttpFaultInjection) {
    if fault.delay.is_none() && fault.abort.is_none() {
        findings.error(path, "fault injection needs a delay or an abort");
    }
    if let Some(delay) = &fault.delay {
        self::delay(findings, &path.field("delay"), delay);
    }
    if let Some(abort) = &fault.abort {
        self::abort(findings, &path.field("abort"), abort);
    }
}

fn delay(findings: &mut Findings, path: &FieldPath, delay: &FaultDelay) {
    if delay.exponential_delay.is_some() {
        findings.error(
            &path.field("exponentialDelay"),
            "exponentialDelay is not supported: use fixedDelay",
        );
    }
    match &delay.fixed_delay {
        Some(fixed) => findings.check(&path.field("fixedDelay"), common::duration(fixed)),
        None if delay.exponential_delay.is_none() => findings.error(
            &path.field("fixedDelay"),
            "set fixedDelay: how long to delay requests, e.g. \"5s\"",
        ),
        None => {}
    }
    if let Some(percentage) = &delay.percentage {
        findings.check(
            &path.field("percentage").field("value"),
            common::percent(percentage.value),
        );
    }
    if let Some(percent) = delay.percent {
        let at = path.field("percent");
        findings.warning(
            &at,
            "percent is deprecated: use percentage (e.g. percentage: {value: 10})",
        );
        findings.check(&at, common::percent(f64::from(percent)));
    }
}

fn abort(findings: &mut Findings, path: &FieldPath, abort: &FaultAbort) {
    let set = [
        abort.http_status.is_some(),
        !abort.grpc_status.is_empty(),
        !abort.http2_error.is_empty(),
    ]
    .into_iter()
    .filter(|set| *set)
    .count();
    match set {
        0 => findings.error(
            path,
            "set httpStatus (or grpcStatus): the error the aborted requests get",
        ),
        1 => {}
        _ => findings.error(
            path,
            "set only one of httpStatus, grpcStatus and http2Error",
        ),
    }
    if let Some(status) = abort.http_status.filter(|s| !(200..=599).contains(s)) {
        findings.error(
            &path.field("httpStatus"),
            format!("httpStatus {status} is out of range: use 200 to 599"),
        );
    }
    if !abort.grpc_status.is_empty() && !GRPC_STATUSES.contains(&abort.grpc_status.as_str()) {
        findings.error(
            &path.field("grpcStatus"),
            format!(
                "grpcStatus {:?} is not a gRPC status: use a name such as \"UNAVAILABLE\" or \"NOT_FOUND\"",
                abort.grpc_status
            ),
        );
    }
    if !abort.http2_error.is_empty() {
        findings.error(
            &path.field("http2Error"),
            "http2Error is not supported: use httpStatus or grpcStatus",
        );
    }
    if let Some(percentage) = &abort.percentage {
        findings.check(
            &path.field("percentage").field("value"),
            common::percent(percentage.value),
        );
    }
}

fn mirrors(findings: &mut Findings, path: &FieldPath, route: &HttpRoute) {
    if route.mirror.is_some() && !route.mirrors.is_empty() {
        findings.error(
            &path.field("mirrors"),
            "set at most one of mirror and mirrors: move mirror into mirrors",
        );
    }
    if let Some(mirror) = &route.mirror {
        virtual_service::destination(findings, &path.field("mirror"), mirror);
    }
    if let Some(percent) = route.mirror_percent {
        let at = path.field("mirrorPercent");
        findings.warning(
            &at,
            "mirrorPercent is deprecated: use mirrorPercentage (e.g. mirrorPercentage: {value: 50})",
        );
        findings.check(&at, common::percent(f64::from(percent)));
    }
    if let Some(percentage) = &route.mirror_percentage {
        findings.check(
            &path.field("mirrorPercentage").field("value"),
            common::percent(percentage.value),
        );
    }
    if route.mirror.is_none() {
        for (field, set) in [
            ("mirrorPercent", route.mirror_percent.is_some()),
            ("mirrorPercentage", route.mirror_percentage.is_some()),
        ] {
            if set {
                findings.warning(
                    &path.field(field),
                    format!(
                        "{field} applies only to mirror, which is not set: set mirror, or give each of mirrors a percentage"
                    ),
                );
            }
        }
    }
    for (k, mirror) in route.mirrors.iter().enumerate() {
        let at = path.field("mirrors").index(k);
        virtual_service::destination(findings, &at.field("destination"), &mirror.destination);
        if let Some(percentage) = &mirror.percentage {
            findings.check(
                &at.field("percentage").field("value"),
                common::percent(percentage.value),
            );
        }
    }
}

fn cors(findings: &mut Findings, path: &FieldPath, cors: &CorsPolicy) {
    for (k, origin) in cors.allow_origins.iter().enumerate() {
        common::string_match(
            findings,
            &path.field("allowOrigins").index(k),
            origin,
            false,
            true,
        );
    }
    if !cors.allow_origin.is_empty() {
        findings.warning(
            &path.field("allowOrigin"),
            "allowOrigin is deprecated: use allowOrigins (e.g. allowOrigins: [{exact: \"https://example.com\"}])",
        );
    }
    for (k, method) in cors.allow_methods.iter().enumerate() {
        if !headers::HTTP_METHODS.contains(&method.as_str()) {
            findings.error(
                &path.field("allowMethods").index(k),
                format!(
                    "{method:?} is not an HTTP method: use {}",
                    headers::HTTP_METHODS.join(", ")
                ),
            );
        }
    }
    for field in ["allowHeaders", "exposeHeaders"] {
        let names = if field == "allowHeaders" {
            &cors.allow_headers
        } else {
            &cors.expose_headers
        };
        for (k, name) in names.iter().enumerate().filter(|(_, name)| *name != "*") {
            findings.check(&path.field(field).index(k), headers::header_name(name));
        }
    }
    if let Some(max_age) = &cors.max_age {
        let at = path.field("maxAge");
        match common::duration(max_age) {
            Err(message) => findings.error(&at, message),
            Ok(age) if age.subsec_nanos() != 0 => findings.error(
                &at,
                format!(
                    "maxAge {:?} is not a whole number of seconds: browsers cache preflight responses in seconds",
                    max_age.0
                ),
            ),
            Ok(_) => {}
        }
    }
}
