//! Envoy's CORS filter (`envoy.filters.http.cors`): the `CorsPolicy` of a route or virtual host
//! (`typed_per_filter_config`), and what the filter does with a request, as a pure function.
//!
//! As in Envoy, a policy only applies when the connection manager's `http_filters` hold the
//! filter, and only to forwarded routes (redirects and direct responses bypass it). The
//! route's policy is consulted first, then the virtual host's: each setting comes from the
//! first policy that sets it, and whether the filter is on at all from the first policy.
//!
//! Served: every field of `CorsPolicy` — `allow_origin_string_match`, `allow_methods`,
//! `allow_headers`, `expose_headers`, `max_age`, `allow_credentials`,
//! `allow_private_network_access`, `forward_not_matching_preflights` and
//! `filter_enabled.default_value` (its `runtime_key` is ignored: mesh-proxy has no runtime).
//! Refused: `shadow_enabled` (shadow mode only feeds Envoy's CORS statistics, which mesh-proxy
//! does not keep).

use std::sync::Arc;

use envoy_types::pb::envoy::extensions::filters::http::cors::v3::CorsPolicy as PbCorsPolicy;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use mesh_common::path::FieldPath;
use rand::Rng;

use super::{fault::Fraction, string_match::StringMatch};
use crate::config_error::{FieldError, reject_if};

/// The filter's name, in `http_filters` and as the key of `typed_per_filter_config`.
pub const CORS_FILTER: &str = "envoy.filters.http.cors";

const ALLOW_ORIGIN: HeaderName = HeaderName::from_static("access-control-allow-origin");
const ALLOW_CREDENTIALS: HeaderName = HeaderName::from_static("access-control-allow-credentials");
const ALLOW_METHODS: HeaderName = HeaderName::from_static("access-control-allow-methods");
const ALLOW_HEADERS: HeaderName = HeaderName::from_static("access-control-allow-headers");
const MAX_AGE: HeaderName = HeaderName::from_static("access-control-max-age");
const EXPOSE_HEADERS: HeaderName = HeaderName::from_static("access-control-expose-headers");
const ALLOW_PRIVATE_NETWORK: HeaderName =
    HeaderName::from_static("access-control-allow-private-network");
const REQUEST_METHOD: &str = "access-control-request-method";
const REQUEST_HEADERS: &str = "access-control-request-headers";
const REQUEST_PRIVATE_NETWORK: &str = "access-control-request-private-network";
const TRUE: HeaderValue = HeaderValue::from_static("true");

/// A compiled `CorsPolicy`.
#[derive(Clone, Debug)]
pub struct CorsPolicy {
    /// `allow_origin_string_match`.
    pub allow_origins: Vec<StringMatch>,
    /// `allow_methods`, as sent (`*` echoes the requested method).
    pub allow_methods: Option<HeaderValue>,
    /// `allow_headers`, as sent (`*` echoes the requested headers).
    pub allow_headers: Option<HeaderValue>,
    /// `expose_headers`.
    pub expose_headers: Option<HeaderValue>,
    /// `max_age`.
    pub max_age: Option<HeaderValue>,
    /// `allow_credentials`, when set.
    pub allow_credentials: Option<bool>,
    /// `allow_private_network_access`, when set.
    pub allow_private_network_access: Option<bool>,
    /// `forward_not_matching_preflights`, when set (Envoy's default is true).
    pub forward_not_matching_preflights: Option<bool>,
    /// `filter_enabled`: the share of requests the filter acts on (all when unset).
    pub enabled: Fraction,
}

/// The policies that apply to one request, most specific first.
#[derive(Clone, Copy, Debug)]
pub struct Policies<'p>(pub [Option<&'p Arc<CorsPolicy>>; 2]);

/// What the filter does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not a CORS request the filter acts on: forward it unchanged.
    Pass,
    /// Forward it, and set these headers on its response, whatever answers it.
    Decorate(HeaderMap),
    /// A preflight: answer `200` locally with these headers.
    Preflight(HeaderMap),
}

// === impl CorsPolicy ===

impl CorsPolicy {
    /// Compiles a `CorsPolicy` found at `path`.
    pub fn compile(p: &PbCorsPolicy, path: &FieldPath) -> Result<Self, FieldError> {
        reject_if(p.shadow_enabled.is_some(), path, "shadow_enabled")?;
        let allow_origins = p
            .allow_origin_string_match
            .iter()
            .enumerate()
            .map(|(i, m)| {
                StringMatch::compile(m, &path.field("allow_origin_string_match").index(i))
            })
            .collect::<Result<_, _>>()?;
        let value = |text: &str, field: &'static str| -> Result<_, FieldError> {
            if text.is_empty() {
                return Ok(None);
            }
            HeaderValue::from_str(text)
                .map(Some)
                .map_err(|_| FieldError::new(path.field(field), "is not a valid header value"))
        };
        let enabled = match &p.filter_enabled {
            None => Fraction::ALL,
            Some(runtime) => {
                let path = path.field("filter_enabled");
                let Some(default) = &runtime.default_value else {
                    return Err(FieldError::new(path.field("default_value"), "is required"));
                };
                Fraction::compile(Some(default), &path.field("default_value"))?
            }
        };
        Ok(Self {
            allow_origins,
            allow_methods: value(&p.allow_methods, "allow_methods")?,
            allow_headers: value(&p.allow_headers, "allow_headers")?,
            expose_headers: value(&p.expose_headers, "expose_headers")?,
            max_age: value(&p.max_age, "max_age")?,
            allow_credentials: p.allow_credentials.as_ref().map(|b| b.value),
            allow_private_network_access: p.allow_private_network_access.as_ref().map(|b| b.value),
            forward_not_matching_preflights: p
                .forward_not_matching_preflights
                .as_ref()
                .map(|b| b.value),
            enabled,
        })
    }
}

// === impl Policies ===

impl<'p> Policies<'p> {
    fn iter(&self) -> impl Iterator<Item = &'p CorsPolicy> {
        self.0.into_iter().flatten().map(Arc::as_ref)
    }

    fn first<T>(&self, field: impl Fn(&'p CorsPolicy) -> Option<T>) -> Option<T> {
        self.iter().find_map(field)
    }

    /// Envoy's CORS filter for a request of `method` with `headers`: `rng` draws
    /// `filter_enabled`.
    pub fn verdict(&self, method: &Method, headers: &HeaderMap, rng: &mut impl Rng) -> Verdict {
        // Whether the filter acts at all is the most specific policy's call alone.
        let Some(first) = self.iter().next() else {
            return Verdict::Pass;
        };
        if !first.enabled.draw(rng) {
            return Verdict::Pass;
        }
        let Some(origin) = headers.get(http::header::ORIGIN).filter(|o| !o.is_empty()) else {
            return Verdict::Pass;
        };
        let allowed = self.origin_allowed(origin);
        let credentials = self.first(|p| p.allow_credentials).unwrap_or(false);
        let mut decorate = HeaderMap::new();
        if allowed {
            // Envoy answers with the request's origin, never `*`.
            decorate.insert(ALLOW_ORIGIN, origin.clone());
            if credentials {
                decorate.insert(ALLOW_CREDENTIALS, TRUE);
            }
            if let Some(expose) = self.first(|p| p.expose_headers.clone()) {
                decorate.insert(EXPOSE_HEADERS, expose);
            }
        }
        let requested = headers.get(REQUEST_METHOD).filter(|m| !m.is_empty());
        let Some(requested) = requested.filter(|_| method == Method::OPTIONS) else {
            return self.decorate(decorate);
        };
        let forward = self
            .first(|p| p.forward_not_matching_preflights)
            .unwrap_or(true);
        if !allowed && forward {
            return Verdict::Pass;
        }
        // The preflight's own headers; its local reply then passes the filter's response side
        // like any other, which adds the decoration. A preflight whose origin does not match
        // still gets everything but the origin, as in Envoy.
        let mut reply = HeaderMap::new();
        if credentials {
            reply.insert(ALLOW_CREDENTIALS, TRUE);
        }
        if let Some(methods) = self.first(|p| p.allow_methods.clone()) {
            let methods = if methods == "*" {
                requested.clone()
            } else {
                methods
            };
            reply.insert(ALLOW_METHODS, methods);
        }
        if let Some(allow) = self.first(|p| p.allow_headers.clone()) {
            let allow = if allow == "*" {
                headers.get(REQUEST_HEADERS).cloned()
            } else {
                Some(allow)
            };
            if let Some(allow) = allow {
                reply.insert(ALLOW_HEADERS, allow);
            }
        }
        if let Some(max_age) = self.first(|p| p.max_age.clone()) {
            reply.insert(MAX_AGE, max_age);
        }
        if self.first(|p| p.allow_private_network_access) == Some(true)
            && headers
                .get(REQUEST_PRIVATE_NETWORK)
                .is_some_and(|v| v == "true")
        {
            reply.insert(ALLOW_PRIVATE_NETWORK, TRUE);
        }
        reply.extend(decorate);
        Verdict::Preflight(reply)
    }

    fn decorate(&self, headers: HeaderMap) -> Verdict {
        if headers.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Decorate(headers)
        }
    }

    /// Envoy lets a matcher that matches `*` itself allow every origin.
    fn origin_allowed(&self, origin: &HeaderValue) -> bool {
        let Some(origins) = self
            .iter()
            .map(|p| &p.allow_origins)
            .find(|o| !o.is_empty())
        else {
            return false;
        };
        let origin = origin.to_str().unwrap_or_default();
        origins
            .iter()
            .any(|m| m.matches("*") || (!origin.is_empty() && m.matches(origin)))
    }
}

#[cfg(test)]
mod tests;
