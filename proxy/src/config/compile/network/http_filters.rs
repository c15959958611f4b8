//! The HTTP filters of a connection manager: one `envoy.filters.http.fault` (see [`Fault`]),
//! then one `envoy.filters.http.cors` (an empty `Cors`; the policies are per route, see
//! [`CorsPolicy`](crate::route::CorsPolicy)) — each optional, in that order, as Istio installs
//! them — and a final `envoy.filters.http.router`.
//!
//! Refused: any other HTTP filter, another order, `is_optional`, `disabled`,
//! `config_discovery`, and in the router `strict_check_headers`,
//! `respect_expected_rq_timeout` and `upstream_http_filters`. Ignored in the router:
//! `dynamic_stats`, `start_child_span`, `upstream_log`, `upstream_log_options`,
//! `suppress_envoy_headers`, `suppress_grpc_request_failure_code_stats`.

use std::sync::Arc;

use envoy_types::pb::envoy::extensions::filters::{
    http::{cors::v3::Cors, fault::v3::HttpFault, router::v3::Router},
    network::http_connection_manager::v3::{HttpFilter, http_filter},
};
use mesh_common::path::FieldPath;

use super::super::common::unpack;
use crate::{
    config_error::{FieldError, reject_if},
    route::{CORS_FILTER, FAULT_FILTER, Fault},
};

/// The name (and, with `type.googleapis.com/`, the type) of the HTTP filter that ends a chain.
const ROUTER: &str = "envoy.filters.http.router";

/// Checks the filter chain (the fault filter, the CORS filter, then the router) and returns
/// the fault filter's own config when the chain holds it, and whether it holds the CORS filter.
pub(super) fn http_filters(
    filters: &[HttpFilter],
    path: &FieldPath,
) -> Result<(Option<Arc<Fault>>, bool), FieldError> {
    let Some((last, others)) = filters.split_last() else {
        return Err(FieldError::new(
            path.clone(),
            format!("must end with {ROUTER}"),
        ));
    };
    let mut fault = None;
    let mut cors = false;
    for (i, other) in others.iter().enumerate() {
        let path = path.index(i);
        // The handler runs the fault filter before the CORS filter: no other order is served.
        let next = match other.name.as_str() {
            FAULT_FILTER if fault.is_none() && !cors => FAULT_FILTER,
            CORS_FILTER if !cors => CORS_FILTER,
            name => {
                return Err(FieldError::new(
                    path,
                    format!("HTTP filter {name:?} is not supported by mesh-proxy"),
                ));
            }
        };
        reject_if(other.is_optional, &path, "is_optional")?;
        reject_if(other.disabled, &path, "disabled")?;
        let typed = match &other.config_type {
            Some(http_filter::ConfigType::TypedConfig(any)) => Some(any),
            Some(http_filter::ConfigType::ConfigDiscovery(_)) => {
                return Err(FieldError::unsupported(path.field("config_discovery")));
            }
            None => None,
        };
        let typed_path = path.field("typed_config");
        if next == CORS_FILTER {
            // `Cors` has no fields; the policies come with the routes.
            if let Some(any) = typed {
                unpack::<Cors>(any, &typed_path)?;
            }
            cors = true;
        } else {
            let config = match typed {
                Some(any) => Fault::compile(&unpack::<HttpFault>(any, &typed_path)?, &typed_path)?,
                None => Fault::default(),
            };
            fault = Some(Arc::new(config));
        }
    }
    route_filter(last, &path.index(others.len()))?;
    Ok((fault, cors))
}

fn route_filter(last: &HttpFilter, path: &FieldPath) -> Result<(), FieldError> {
    let path = path.clone();
    match &last.config_type {
        Some(http_filter::ConfigType::TypedConfig(any)) => {
            let router = unpack::<Router>(any, &path.field("typed_config")).map_err(|_| {
                FieldError::new(
                    path.field("typed_config"),
                    format!(
                        "the last HTTP filter must be {ROUTER}, got {:?}",
                        any.type_url
                    ),
                )
            })?;
            let config = path.field("typed_config");
            reject_if(
                !router.strict_check_headers.is_empty(),
                &config,
                "strict_check_headers",
            )?;
            reject_if(
                router.respect_expected_rq_timeout,
                &config,
                "respect_expected_rq_timeout",
            )?;
            reject_if(
                !router.upstream_http_filters.is_empty(),
                &config,
                "upstream_http_filters",
            )
        }
        Some(http_filter::ConfigType::ConfigDiscovery(_)) => {
            Err(FieldError::unsupported(path.field("config_discovery")))
        }
        None if last.name == ROUTER => Ok(()),
        None => Err(FieldError::new(
            path.field("name"),
            format!("the last HTTP filter must be {ROUTER}, got {:?}", last.name),
        )),
    }
}
