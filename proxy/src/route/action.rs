//! What a matched route does, and the policy that goes with forwarding.
//!
//! Refused in `RouteAction`: `cluster_header`, `cluster_specifier_plugin`,
//! `inline_cluster_specifier_plugin`, `metadata_match`, `path_rewrite_policy`, `path_rewrite`,
//! `flush_timeout`, `early_data_policy`, `retry_policy_typed_config`,
//! `rate_limits`, `cors`, `max_grpc_timeout`,
//! `grpc_timeout_offset`, `internal_redirect_policy`, `internal_redirect_action`,
//! `max_internal_redirects`, `hedge_policy`, an upgrade's `connect_config`, and host rewrites
//! other than `host_rewrite_literal` and `auto_host_rewrite`.
//!
//! `request_mirror_policies` are served (see [`MirrorPolicy`](super::MirrorPolicy)).
//!
//! Ignored, because they do not change where or how a request goes: `priority` (a connection
//! pool hint) and `include_vh_rate_limits` (only meaningful with rate limits, which are refused).

use std::time::Duration;

use envoy_types::pb::envoy::config::route::v3::{
    RouteAction,
    route_action::{ClusterNotFoundResponseCode, ClusterSpecifier, HostRewriteSpecifier},
};
use http::StatusCode;
use mesh_common::path::FieldPath;

use super::{
    clusters::Clusters,
    hash_policy::HashPolicy,
    mirror::MirrorPolicy,
    respond::{DirectResponse, Redirect},
    retry::{RetryPolicy, duration, optional},
    rewrite::PathRewrite,
    route_match::PathMatch,
};
use crate::config_error::{FieldError, reject_if};

/// Envoy's route timeout when `timeout` is unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// What a route does with a request it matches.
#[derive(Clone, Debug)]
pub enum Action {
    /// Forward upstream (boxed: it is by far the largest variant).
    Forward(Box<Forward>),
    /// Answer with a redirect.
    Redirect(Redirect),
    /// Answer with a fixed response.
    Direct(DirectResponse),
}

/// Forwarding: to which clusters, and under what policy.
#[derive(Clone, Debug)]
pub struct Forward {
    /// The upstream cluster, or a weighted split.
    pub clusters: Clusters,
    /// Timeouts, rewrites and retries.
    pub policy: RoutePolicy,
}

/// How a forwarded request is treated.
#[derive(Clone, Debug)]
pub struct RoutePolicy {
    /// The whole-request timeout; `None` disables it (Envoy's `0s`). Unset means 15 s.
    pub timeout: Option<Duration>,
    /// `idle_timeout`: replaces the connection manager's `stream_idle_timeout` for this
    /// route's streams. `None` keeps the manager's; `Some(None)` disables it (`0s`).
    pub idle_timeout: Option<Option<Duration>>,
    /// A path rewrite.
    pub path_rewrite: Option<PathRewrite>,
    /// A host (`:authority`) rewrite.
    pub host_rewrite: Option<HostRewrite>,
    /// Whether to add the original host to `x-forwarded-host` when rewriting it.
    pub append_x_forwarded_host: bool,
    /// Retries: the route's own, else the virtual host's.
    pub retry: Option<RetryPolicy>,
    /// The status returned when the cluster does not exist.
    pub cluster_not_found: StatusCode,
    /// `max_stream_duration.max_stream_duration`: caps the stream's lifetime from its start,
    /// if set (and not `0s`).
    pub max_stream_duration: Option<Duration>,
    /// Whether the `grpc-timeout` header may set the timeout, and its cap (`Some(None)` when
    /// uncapped).
    pub grpc_timeout_header_max: Option<Option<Duration>>,
    /// Subtracted from a `grpc-timeout` header's value.
    pub grpc_timeout_header_offset: Option<Duration>,
    /// Per-route protocol upgrades (`websocket`, …) and whether each is enabled.
    pub upgrades: Vec<(String, bool)>,
    /// `hash_policy`: the request hash that ring-hash and Maglev clusters pick with.
    pub hash_policy: HashPolicy,
    /// `request_mirror_policies`: the clusters that get a shadow copy of the request.
    pub mirrors: Vec<MirrorPolicy>,
}

/// A host rewrite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostRewrite {
    /// Replace the host with this value.
    Literal(String),
    /// Replace the host with the chosen upstream endpoint's hostname.
    Auto,
}

// === impl Forward ===

impl Forward {
    /// Compiles a `route` action found at `path`; `vhost_retry` is the virtual host's retry
    /// policy, used when the route has none.
    #[allow(deprecated)]
    pub fn compile(
        a: &RouteAction,
        path_match: &PathMatch,
        vhost_retry: Option<&RetryPolicy>,
        path: &FieldPath,
    ) -> Result<Self, FieldError> {
        reject_if(a.metadata_match.is_some(), path, "metadata_match")?;
        reject_if(a.path_rewrite_policy.is_some(), path, "path_rewrite_policy")?;
        reject_if(!a.path_rewrite.is_empty(), path, "path_rewrite")?;
        reject_if(a.flush_timeout.is_some(), path, "flush_timeout")?;
        reject_if(a.early_data_policy.is_some(), path, "early_data_policy")?;
        reject_if(
            a.retry_policy_typed_config.is_some(),
            path,
            "retry_policy_typed_config",
        )?;
        reject_if(!a.rate_limits.is_empty(), path, "rate_limits")?;
        reject_if(a.cors.is_some(), path, "cors")?;
        reject_if(a.max_grpc_timeout.is_some(), path, "max_grpc_timeout")?;
        reject_if(a.grpc_timeout_offset.is_some(), path, "grpc_timeout_offset")?;
        reject_if(
            a.internal_redirect_policy.is_some(),
            path,
            "internal_redirect_policy",
        )?;
        reject_if(
            a.internal_redirect_action != 0,
            path,
            "internal_redirect_action",
        )?;
        reject_if(
            a.max_internal_redirects.is_some(),
            path,
            "max_internal_redirects",
        )?;
        reject_if(a.hedge_policy.is_some(), path, "hedge_policy")?;

        let clusters = match &a.cluster_specifier {
            Some(ClusterSpecifier::Cluster(name)) => {
                Clusters::single(name, &path.field("cluster"))?
            }
            Some(ClusterSpecifier::WeightedClusters(w)) => {
                Clusters::weighted(w, &path.field("weighted_clusters"))?
            }
            Some(ClusterSpecifier::ClusterHeader(_)) => {
                return Err(FieldError::unsupported(path.field("cluster_header")));
            }
            Some(ClusterSpecifier::ClusterSpecifierPlugin(_)) => {
                return Err(FieldError::unsupported(
                    path.field("cluster_specifier_plugin"),
                ));
            }
            Some(ClusterSpecifier::InlineClusterSpecifierPlugin(_)) => {
                return Err(FieldError::unsupported(
                    path.field("inline_cluster_specifier_plugin"),
                ));
            }
            None => {
                return Err(FieldError::new(
                    path.clone(),
                    "one of cluster or weighted_clusters is required",
                ));
            }
        };

        let path_rewrite = match (a.prefix_rewrite.is_empty(), &a.regex_rewrite) {
            (true, None) => None,
            (false, None) => Some(PathRewrite::prefix(
                &a.prefix_rewrite,
                path_match,
                &path.field("prefix_rewrite"),
            )?),
            (true, Some(r)) => Some(PathRewrite::regex(r, &path.field("regex_rewrite"))?),
            (false, Some(_)) => {
                return Err(FieldError::new(
                    path.field("regex_rewrite"),
                    "cannot be set together with prefix_rewrite",
                ));
            }
        };
        let host_rewrite = match &a.host_rewrite_specifier {
            None => None,
            Some(HostRewriteSpecifier::HostRewriteLiteral(host)) => {
                Some(HostRewrite::Literal(host.clone()))
            }
            Some(HostRewriteSpecifier::AutoHostRewrite(auto)) => {
                auto.value.then_some(HostRewrite::Auto)
            }
            Some(HostRewriteSpecifier::HostRewriteHeader(_)) => {
                return Err(FieldError::unsupported(path.field("host_rewrite_header")));
            }
            Some(HostRewriteSpecifier::HostRewritePathRegex(_)) => {
                return Err(FieldError::unsupported(
                    path.field("host_rewrite_path_regex"),
                ));
            }
            Some(HostRewriteSpecifier::HostRewrite(_)) => {
                return Err(FieldError::unsupported(path.field("host_rewrite")));
            }
        };
        let retry = match &a.retry_policy {
            Some(r) => Some(RetryPolicy::compile(r, &path.field("retry_policy"))?),
            None => vhost_retry.cloned(),
        };
        let cluster_not_found =
            match ClusterNotFoundResponseCode::try_from(a.cluster_not_found_response_code) {
                Ok(ClusterNotFoundResponseCode::ServiceUnavailable) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                Ok(ClusterNotFoundResponseCode::NotFound) => StatusCode::NOT_FOUND,
                Ok(ClusterNotFoundResponseCode::InternalServerError) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
                Err(_) => {
                    return Err(FieldError::new(
                        path.field("cluster_not_found_response_code"),
                        format!("unknown value {}", a.cluster_not_found_response_code),
                    ));
                }
            };
        let msd_path = path.field("max_stream_duration");
        let msd = a.max_stream_duration.as_ref();
        let upgrades = a
            .upgrade_configs
            .iter()
            .enumerate()
            .map(|(i, u)| {
                let upath = path.field("upgrade_configs").index(i);
                reject_if(u.connect_config.is_some(), &upath, "connect_config")?;
                Ok((
                    u.upgrade_type.to_ascii_lowercase(),
                    u.enabled.as_ref().is_none_or(|b| b.value),
                ))
            })
            .collect::<Result<_, FieldError>>()?;
        let policy = RoutePolicy {
            timeout: match &a.timeout {
                Some(t) => optional(Some(t), &path.field("timeout"))?,
                None => Some(DEFAULT_TIMEOUT),
            },
            idle_timeout: a
                .idle_timeout
                .as_ref()
                .map(|d| optional(Some(d), &path.field("idle_timeout")))
                .transpose()?,
            path_rewrite,
            host_rewrite,
            append_x_forwarded_host: a.append_x_forwarded_host,
            retry,
            cluster_not_found,
            max_stream_duration: optional(
                msd.and_then(|m| m.max_stream_duration.as_ref()),
                &msd_path.field("max_stream_duration"),
            )?,
            grpc_timeout_header_max: msd
                .and_then(|m| m.grpc_timeout_header_max.as_ref())
                .map(|d| optional(Some(d), &msd_path.field("grpc_timeout_header_max")))
                .transpose()?,
            grpc_timeout_header_offset: msd
                .and_then(|m| m.grpc_timeout_header_offset.as_ref())
                .map(|d| duration(d, &msd_path.field("grpc_timeout_header_offset")))
                .transpose()?,
            upgrades,
            hash_policy: HashPolicy::compile(&a.hash_policy, &path.field("hash_policy"))?,
            mirrors: MirrorPolicy::compile_all(
                &a.request_mirror_policies,
                &path.field("request_mirror_policies"),
            )?,
        };
        Ok(Self { clusters, policy })
    }
}
