//! The HTTP filters a forwarded request passes before the router, in the order Istio installs
//! them: the fault filter (delay, abort), then the CORS filter (preflights answered here,
//! simple requests decorated on the way back). Redirects and direct responses pass neither,
//! as in Envoy, where both filters act only on routes that forward.

use bytes::Bytes;
use http::{HeaderMap, Method, Response, StatusCode};

use super::{body::ProxyBody, forward::Record, local};
use crate::{
    config::HttpConnectionManager,
    response_flags::ResponseFlag,
    route::{CorsPolicies, CorsVerdict, Route, VirtualHost},
};

/// What the filters decided.
pub enum Decoded {
    /// Answer with this, without forwarding.
    Respond(Response<ProxyBody>),
    /// Forward, then set these headers (the CORS filter's) on whatever response comes back.
    Forward(Option<HeaderMap>),
}

/// Runs the filters of `hcm` (none for an explicit-proxy request) on a request that `route`
/// of `vhost` forwards.
pub async fn decode(
    hcm: Option<&HttpConnectionManager>,
    route: &Route,
    vhost: &VirtualHost,
    method: &Method,
    headers: &HeaderMap,
    record: &mut Record,
) -> Decoded {
    let Some(hcm) = hcm else {
        return Decoded::Forward(None);
    };
    // The route's fault config replaces the filter's own; neither applies without the filter.
    // Its delay is not part of the route timeout, which starts with the router.
    let fault = hcm
        .fault
        .as_deref()
        .map(|filter| route.fault.as_deref().unwrap_or(filter));
    let injection = fault
        .map(|f| f.inject(&mut rand::rng()))
        .unwrap_or_default();
    if let Some(delay) = injection.delay {
        record.flags.insert(ResponseFlag::DelayInjected);
        tokio::time::sleep(delay).await;
    }
    if let Some(abort) = injection.abort {
        record.flags.insert(ResponseFlag::FaultInjected);
        return Decoded::Respond(local::abort(abort));
    }
    if !hcm.cors {
        return Decoded::Forward(None);
    }
    let policies = CorsPolicies([route.cors.as_ref(), vhost.cors.as_ref()]);
    match policies.verdict(method, headers, &mut rand::rng()) {
        CorsVerdict::Pass => Decoded::Forward(None),
        CorsVerdict::Decorate(headers) => Decoded::Forward(Some(headers)),
        CorsVerdict::Preflight(headers) => {
            // Envoy's CORS filter answers a preflight itself, not as a local reply.
            let mut response = local::plain(StatusCode::OK, Bytes::new());
            response.headers_mut().extend(headers);
            Decoded::Respond(response)
        }
    }
}
