//! Routing: Envoy `RouteConfiguration`s compiled into lookup tables, and the pure lookup from a
//! request's metadata to a [`Decision`].
//!
//! A configuration is validated as a whole when it arrives: regexes are compiled, domains
//! indexed, and anything outside the supported subset refused with a [`ConfigError`] whose text
//! becomes the NACK's `error_detail`, while the previous table keeps serving. Each module's
//! documentation lists the fields it refuses and the ones it ignores because they only concern
//! stats, tracing or admin output.
//!
//! [`ConfigError`]: crate::config_error::ConfigError

mod action;
mod clusters;
mod cors;
mod decorator;
mod domains;
mod fault;
mod hash_policy;
mod header_edits;
mod mirror;
mod request;
mod respond;
mod retry;
mod rewrite;
mod route_match;
mod string_match;
mod table;
mod vhost;

pub use self::{
    action::{Action, Forward, HostRewrite, RoutePolicy},
    clusters::{ClusterTarget, Clusters},
    cors::{CORS_FILTER, CorsPolicy, Policies as CorsPolicies, Verdict as CorsVerdict},
    decorator::Decorator,
    fault::{ABORT_BODY, Abort, FAULT_FILTER, Fault, Fraction, Injection},
    hash_policy::{
        ConnectionAddrs, CookieKey, Generate, HashInput, HashKey, HashPolicy, RequestHash,
        generated_value,
    },
    header_edits::{AppendAction, HeaderAdd, HeaderEdits},
    mirror::{MirrorPolicy, SHADOW_SUFFIX},
    request::RequestMeta,
    respond::{DirectResponse, Redirect},
    retry::RetryPolicy,
    rewrite::PathRewrite,
    route_match::{HeaderMatch, PathMatch, QueryMatch, RouteMatcher},
    string_match::StringMatch,
    table::{Decision, Outcome, RouteTable},
    vhost::{Route, VirtualHost},
};
