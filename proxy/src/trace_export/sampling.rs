//! Envoy's tracing decision for a request that carries no `traceparent`: `x-client-trace-id`
//! with `client_sampling`, a request id already marked as traced, or `random_sampling`; then
//! `overall_sampling` caps all of them.
//!
//! As in Envoy, `random_sampling` and `overall_sampling` draw from the request id (the integer
//! of its first 8 hex digits, modulo 10000), so that every proxy on the path decides the same
//! for the same request; a request without a usable `x-request-id` is not traced.

use http::HeaderMap;

use super::config::TracingConfig;

/// `x-client-trace-id`.
pub const X_CLIENT_TRACE_ID: &str = "x-client-trace-id";

/// Whether a request without trace context starts a sampled trace. `draw` is a random number
/// for `client_sampling`.
pub fn decide(config: &TracingConfig, headers: &HeaderMap, draw: u64) -> bool {
    let Some((result, marked)) = request_id(headers) else {
        return false;
    };
    let traced = marked
        || (headers.contains_key(X_CLIENT_TRACE_ID) && enabled(config.client_sampling, draw))
        || enabled(config.random_sampling, result);
    traced && enabled(config.overall_sampling, result)
}

/// Envoy's `featureEnabled` for a percentage: `value % 10000` below the percentage in
/// hundredths.
fn enabled(percent: f64, value: u64) -> bool {
    // Truncates as Envoy's conversion to a fraction of 10000 does.
    let numerator = (percent.clamp(0.0, 100.0) * 100.0) as u64;
    value % 10_000 < numerator
}

/// The request id's integer, and whether an earlier proxy already marked it as traced (the
/// UUID version digit Envoy rewrites to `9`, `a` or `b`).
fn request_id(headers: &HeaderMap) -> Option<(u64, bool)> {
    let id = headers.get("x-request-id")?.to_str().ok()?;
    let result = u64::from_str_radix(id.get(..8)?, 16).ok()?;
    let marked = id.len() == 36 && matches!(id.as_bytes()[14], b'9' | b'a' | b'b');
    Some((result, marked))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http::HeaderValue;

    use super::*;
    use crate::trace_export::config::OtlpService;

    fn config(client: f64, random: f64, overall: f64) -> TracingConfig {
        TracingConfig {
            client_sampling: client,
            random_sampling: random,
            overall_sampling: overall,
            max_path_tag_length: 256,
            custom_tags: Vec::new(),
            service: Arc::new(OtlpService {
                cluster: "otel".into(),
                cluster_path: mesh_common::path::FieldPath::root(),
                authority: "otel".into(),
                timeout: std::time::Duration::from_secs(1),
                send_grpc_timeout: false,
                initial_metadata: Vec::new(),
                resource: Vec::new(),
            }),
        }
    }

    fn headers(request_id: &str, client_trace: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", HeaderValue::from_str(request_id).unwrap());
        if client_trace {
            headers.insert(X_CLIENT_TRACE_ID, HeaderValue::from_static("abc"));
        }
        headers
    }

    // 0x00001388 = 5000: sampled below 50.01 %, not at 50 %.
    const HALF: &str = "00001388-0000-4000-8000-000000000000";

    #[test]
    fn random_sampling_draws_from_the_request_id() {
        assert!(decide(
            &config(100.0, 100.0, 100.0),
            &headers(HALF, false),
            0
        ));
        assert!(!decide(
            &config(100.0, 50.0, 100.0),
            &headers(HALF, false),
            0
        ));
        assert!(decide(
            &config(100.0, 50.01, 100.0),
            &headers(HALF, false),
            0
        ));
        assert!(!decide(
            &config(100.0, 0.0, 100.0),
            &headers(HALF, false),
            0
        ));
    }

    #[test]
    fn client_trace_id_uses_client_sampling() {
        assert!(decide(
            &config(100.0, 0.0, 100.0),
            &headers(HALF, true),
            9_999
        ));
        assert!(!decide(&config(0.0, 0.0, 100.0), &headers(HALF, true), 0));
    }

    #[test]
    fn overall_sampling_caps_every_reason() {
        assert!(!decide(
            &config(100.0, 100.0, 50.0),
            &headers(HALF, true),
            0
        ));
        assert!(!decide(
            &config(100.0, 100.0, 0.0),
            &headers("00000000-0000-b000-8000-000000000000", false),
            0
        ));
    }

    #[test]
    fn a_request_id_marked_traced_stays_traced() {
        let marked = headers("00001388-0000-b000-8000-000000000000", false);
        assert!(decide(&config(100.0, 0.0, 100.0), &marked, 0));
    }

    #[test]
    fn no_usable_request_id_is_not_traced() {
        assert!(!decide(&config(100.0, 100.0, 100.0), &HeaderMap::new(), 0));
        assert!(!decide(
            &config(100.0, 100.0, 100.0),
            &headers("not-hex!", false),
            0
        ));
    }
}
