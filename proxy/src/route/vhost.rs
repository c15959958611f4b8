//! Compiled virtual hosts and routes.
//!
//! `VirtualHost.require_tls` (`ALL` or `EXTERNAL_ONLY`) answers every request that did not
//! come over TLS (`x-forwarded-proto` other than `https`) with Envoy's 301 to
//! `https://<authority><path>`. No address is internal (the connection manager's
//! `internal_address_config` is refused), so `EXTERNAL_ONLY` redirects every such request too,
//! as Envoy 1.40 does without that config.
//!
//! Refused in `VirtualHost`: `matcher`, `rate_limits`,
//! `cors` (the deprecated inline policy), `typed_per_filter_config` for any filter but the CORS
//! filter, `retry_policy_typed_config`, `hedge_policy`, `request_mirror_policies`,
//! `route_specifiers`. In `Route`: `typed_per_filter_config` for any filter but the fault and
//! CORS filters, `route_specifiers`, and the `filter_action` and `non_forwarding_action`
//! actions.
//!
//! `Route.decorator` names the route's spans (see [`Decorator`]).
//!
//! Ignored, because they only name things for stats, tracing or admin output, or bound
//! buffering: `Route.name`, `metadata`, `tracing`, `stat_prefix`,
//! `per_request_buffer_limit_bytes`, `request_body_buffer_limit`;
//! `VirtualHost.virtual_clusters`, `metadata`, `include_request_attempt_count`,
//! `include_attempt_count_in_response`, `include_is_timeout_retry_header`,
//! `per_request_buffer_limit_bytes`, `request_body_buffer_limit`.

use std::sync::Arc;

use envoy_types::pb::{
    envoy::{
        config::route::v3::{
            Route as PbRoute, VirtualHost as PbVirtualHost, route::Action as PbAction,
            virtual_host::TlsRequirementType,
        },
        extensions::filters::http::{cors::v3::CorsPolicy as PbCorsPolicy, fault::v3::HttpFault},
    },
    google::protobuf::Any,
};
use mesh_common::path::FieldPath;

use super::{
    action::{Action, Forward},
    cors::{CORS_FILTER, CorsPolicy},
    decorator::Decorator,
    fault::{FAULT_FILTER, Fault},
    header_edits::HeaderEdits,
    request::RequestMeta,
    respond::{DirectResponse, Redirect},
    retry::RetryPolicy,
    route_match::RouteMatcher,
};
use crate::{
    config_error::{FieldError, reject_if},
    typed_config::unpack,
};

/// A compiled virtual host: its routes in order, and its header edits.
#[derive(Clone, Debug)]
pub struct VirtualHost {
    /// The virtual host's name.
    pub name: String,
    /// Tried in order; the first match wins.
    pub routes: Vec<Route>,
    /// Request header edits for every route of this host.
    pub request_headers: HeaderEdits,
    /// Response header edits for every route of this host.
    pub response_headers: HeaderEdits,
    /// The CORS filter's policy for every route of this host (`typed_per_filter_config`).
    pub cors: Option<Arc<CorsPolicy>>,
    /// `require_tls`: requests not over TLS are redirected to `https` before any route.
    pub require_tls: bool,
}

/// A compiled route.
#[derive(Clone, Debug)]
pub struct Route {
    /// The route's name (may be empty).
    pub name: String,
    /// When the route applies.
    pub matcher: RouteMatcher,
    /// What it does.
    pub action: Action,
    /// Request header edits for this route.
    pub request_headers: HeaderEdits,
    /// Response header edits for this route.
    pub response_headers: HeaderEdits,
    /// The fault filter's config for this route (`typed_per_filter_config`), replacing the
    /// filter's own.
    pub fault: Option<Arc<Fault>>,
    /// The CORS filter's policy for this route, consulted before the virtual host's.
    pub cors: Option<Arc<CorsPolicy>>,
    /// `decorator`: the span name of its requests.
    pub decorator: Option<Decorator>,
}

// === impl VirtualHost ===

impl VirtualHost {
    /// Compiles a `VirtualHost` found at `path`.
    #[allow(deprecated)]
    pub fn compile(v: &PbVirtualHost, max_body: u32, path: &FieldPath) -> Result<Self, FieldError> {
        reject_if(v.matcher.is_some(), path, "matcher")?;
        let require_tls = match TlsRequirementType::try_from(v.require_tls) {
            Ok(TlsRequirementType::None) => false,
            Ok(TlsRequirementType::ExternalOnly | TlsRequirementType::All) => true,
            Err(_) => {
                return Err(FieldError::new(
                    path.field("require_tls"),
                    format!("unknown value {}", v.require_tls),
                ));
            }
        };
        reject_if(!v.rate_limits.is_empty(), path, "rate_limits")?;
        reject_if(v.cors.is_some(), path, "cors")?;
        let configs = path.field("typed_per_filter_config");
        let mut cors = None;
        for (name, any) in &v.typed_per_filter_config {
            let path = configs.field(name.clone());
            if name != CORS_FILTER {
                return Err(FieldError::unsupported(path));
            }
            cors = Some(cors_policy(any, &path)?);
        }
        reject_if(
            v.retry_policy_typed_config.is_some(),
            path,
            "retry_policy_typed_config",
        )?;
        reject_if(v.hedge_policy.is_some(), path, "hedge_policy")?;
        reject_if(
            !v.request_mirror_policies.is_empty(),
            path,
            "request_mirror_policies",
        )?;
        reject_if(!v.route_specifiers.is_empty(), path, "route_specifiers")?;
        let retry = v
            .retry_policy
            .as_ref()
            .map(|r| RetryPolicy::compile(r, &path.field("retry_policy")))
            .transpose()?;
        let mut routes: Vec<Route> = v
            .routes
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Route::compile(r, retry.as_ref(), max_body, &path.field("routes").index(i))
            })
            .collect::<Result<_, _>>()?;
        // Collecting through `Result` cannot size the vector up front, and it grows to room for
        // four: for the one route a sidecar's virtual host usually has, that is 1 KiB wasted,
        // per service.
        routes.shrink_to_fit();
        Ok(Self {
            name: v.name.clone(),
            routes,
            request_headers: HeaderEdits::compile(
                &v.request_headers_to_add,
                &path.field("request_headers_to_add"),
                &v.request_headers_to_remove,
                &path.field("request_headers_to_remove"),
            )?,
            response_headers: HeaderEdits::compile(
                &v.response_headers_to_add,
                &path.field("response_headers_to_add"),
                &v.response_headers_to_remove,
                &path.field("response_headers_to_remove"),
            )?,
            cors,
            require_tls,
        })
    }

    /// The first route matching the request.
    pub fn find(&self, req: &RequestMeta<'_>) -> Option<&Route> {
        self.routes.iter().find(|r| r.matcher.matches(req))
    }
}

// === impl Route ===

impl Route {
    fn compile(
        r: &PbRoute,
        vhost_retry: Option<&RetryPolicy>,
        max_body: u32,
        path: &FieldPath,
    ) -> Result<Self, FieldError> {
        let (fault, cors) = route_filters(r, path)?;
        reject_if(!r.route_specifiers.is_empty(), path, "route_specifiers")?;
        let Some(m) = &r.r#match else {
            return Err(FieldError::new(path.field("match"), "is required"));
        };
        let matcher = RouteMatcher::compile(m, &path.field("match"))?;
        let action = match &r.action {
            Some(PbAction::Route(a)) => Action::Forward(Box::new(Forward::compile(
                a,
                matcher.path_match(),
                vhost_retry,
                &path.field("route"),
            )?)),
            Some(PbAction::Redirect(a)) => Action::Redirect(Redirect::compile(
                a,
                matcher.path_match(),
                &path.field("redirect"),
            )?),
            Some(PbAction::DirectResponse(a)) => Action::Direct(DirectResponse::compile(
                a,
                max_body,
                &path.field("direct_response"),
            )?),
            Some(PbAction::FilterAction(_)) => {
                return Err(FieldError::unsupported(path.field("filter_action")));
            }
            Some(PbAction::NonForwardingAction(_)) => {
                return Err(FieldError::unsupported(path.field("non_forwarding_action")));
            }
            None => {
                return Err(FieldError::new(
                    path.clone(),
                    "one of route, redirect or direct_response is required",
                ));
            }
        };
        let decorator = match &r.decorator {
            Some(d) => Some(Decorator::compile(d, &path.field("decorator"))?),
            None => None,
        };
        Ok(Self {
            name: r.name.clone(),
            matcher,
            action,
            fault,
            cors,
            decorator,
            request_headers: HeaderEdits::compile(
                &r.request_headers_to_add,
                &path.field("request_headers_to_add"),
                &r.request_headers_to_remove,
                &path.field("request_headers_to_remove"),
            )?,
            response_headers: HeaderEdits::compile(
                &r.response_headers_to_add,
                &path.field("response_headers_to_add"),
                &r.response_headers_to_remove,
                &path.field("response_headers_to_remove"),
            )?,
        })
    }
}

type RouteFilters = (Option<Arc<Fault>>, Option<Arc<CorsPolicy>>);

/// The route's `typed_per_filter_config`: the fault and CORS filters' are served.
fn route_filters(r: &PbRoute, path: &FieldPath) -> Result<RouteFilters, FieldError> {
    let configs = path.field("typed_per_filter_config");
    let (mut fault, mut cors) = (None, None);
    for (name, any) in &r.typed_per_filter_config {
        let path = configs.field(name.clone());
        match name.as_str() {
            FAULT_FILTER => {
                let config = unpack::<HttpFault>(any, &path)?;
                fault = Some(Arc::new(Fault::compile(&config, &path)?));
            }
            CORS_FILTER => cors = Some(cors_policy(any, &path)?),
            _ => return Err(FieldError::unsupported(path)),
        }
    }
    Ok((fault, cors))
}

fn cors_policy(any: &Any, path: &FieldPath) -> Result<Arc<CorsPolicy>, FieldError> {
    let config = unpack::<PbCorsPolicy>(any, path)?;
    Ok(Arc::new(CorsPolicy::compile(&config, path)?))
}
