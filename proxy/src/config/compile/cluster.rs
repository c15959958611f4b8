//! `Cluster` → [`ClusterConfig`].
//!
//! Refused in `Cluster`: a custom `cluster_type`, `lb_policy` other than `ROUND_ROBIN`,
//! `LEAST_REQUEST`, `RANDOM`, `RING_HASH` and `MAGLEV` (and `CLUSTER_PROVIDED`, for
//! `ORIGINAL_DST` only), an `lb_config` other than those of ring hash and Maglev (`lb.rs`),
//! `load_balancing_policy`, `common_lb_config` other than `healthy_panic_threshold`,
//! `lb_subset_config`, an `eds_config` that is not ADS,
//! `transport_socket_matches`/`transport_socket_matcher`, `health_checks`,
//! `max_requests_per_connection`, `upstream_http_protocol_options`,
//! `common_http_protocol_options`, `upstream_bind_config`, `filters`, `upstream_config`, `connection_pool_per_downstream_connection`,
//! `queuing_policies`, `dns_resolvers`, `use_tcp_for_dns_lookups`, `dns_resolution_config`,
//! `typed_dns_resolver_config`, `dns_lookup_family` `V6_ONLY`, in `circuit_breakers`
//! `per_host_thresholds` and thresholds with a priority other than `DEFAULT`, a `retry_budget`
//! or `max_connection_pools`. `options.rs` says what is served of the protocol options,
//! `upstream_connection_options` and `common_lb_config`.
//!
//! Circuit breakers are enforced as Envoy does (see [`CircuitBreaker`]), with Envoy's defaults
//! (1024 connections, pending and active requests, 3 concurrent retries) where unset.
//!
//! `transport_socket` originates TLS (`UpstreamTlsContext`); `tls.rs` lists what it serves.
//!
//! `outlier_detection` is honoured for its consecutive-error detectors, the ones Istio uses;
//! `outlier.rs` lists its fields one by one.
//!
//! Ignored: `alt_stat_name`, `stats_matcher`, `metadata` (bar `filter_metadata.istio.services`,
//! for metric labels), `per_connection_buffer_limit_bytes`,
//! `per_connection_buffer_high_watermark_timeout`,
//! `close_connections_on_host_health_failure`, `ignore_health_on_host_removal` (there is no
//! health checking), `lrs_server`, `lrs_report_endpoint_metrics`, `track_timeout_budgets`,
//! `track_cluster_stats`, `preconnect_policy`, `wait_for_warm_on_init`, `cleanup_interval`;
//! and `dns_refresh_rate`, `dns_jitter`, `dns_failure_refresh_rate`, `respect_dns_ttl`: DNS
//! clusters are resolved when they are applied and then at the one period that
//! `refresh_dns_forever` is given.

use std::{sync::Arc, time::Duration};

use envoy_types::pb::envoy::config::{
    cluster::v3::{
        Cluster,
        cluster::{ClusterDiscoveryType, DiscoveryType, DnsLookupFamily},
    },
    core::v3::{RoutingPriority, config_source::ConfigSourceSpecifier},
    endpoint::v3::{ClusterLoadAssignment, lb_endpoint::HostIdentifier},
};
use envoy_types::pb::google::protobuf::UInt32Value;
use mesh_common::path::FieldPath;

use super::{
    common::{duration, host_and_port, join},
    outlier::outlier_detection,
};
use crate::{
    balance::{EndpointSet, OutlierDetector},
    config::{ClusterConfig, Discovery},
    config_error::{ConfigError, FieldError, reject_if},
    upstream::{CircuitBreaker, Thresholds},
};

mod lb;
mod options;
mod tls;

const KIND: &str = "Cluster";

/// Envoy's default `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Compiles a `Cluster`, or says precisely why it is refused. `STATIC` clusters get their
/// endpoint set here; DNS clusters list the hosts to resolve.
pub fn compile_cluster(cluster: &Cluster) -> Result<ClusterConfig, ConfigError> {
    compile_fields(cluster).map_err(|e| e.in_resource(KIND, &cluster.name))
}

#[allow(deprecated)]
fn compile_fields(c: &Cluster) -> Result<ClusterConfig, FieldError> {
    let root = FieldPath::root();
    if c.name.is_empty() {
        return Err(FieldError::new(root.field("name"), "must not be empty"));
    }
    reject_if(
        !c.transport_socket_matches.is_empty(),
        &root,
        "transport_socket_matches",
    )?;
    reject_if(
        c.transport_socket_matcher.is_some(),
        &root,
        "transport_socket_matcher",
    )?;
    reject_if(!c.health_checks.is_empty(), &root, "health_checks")?;
    reject_if(
        c.max_requests_per_connection.is_some(),
        &root,
        "max_requests_per_connection",
    )?;
    reject_if(
        c.upstream_http_protocol_options.is_some(),
        &root,
        "upstream_http_protocol_options",
    )?;
    reject_if(
        c.common_http_protocol_options.is_some(),
        &root,
        "common_http_protocol_options",
    )?;
    reject_if(
        c.upstream_bind_config.is_some(),
        &root,
        "upstream_bind_config",
    )?;
    reject_if(c.lb_subset_config.is_some(), &root, "lb_subset_config")?;
    let panic_threshold = options::panic_threshold(c, &root.field("common_lb_config"))?;
    reject_if(!c.filters.is_empty(), &root, "filters")?;
    reject_if(
        c.load_balancing_policy.is_some(),
        &root,
        "load_balancing_policy",
    )?;
    reject_if(c.upstream_config.is_some(), &root, "upstream_config")?;
    reject_if(
        c.connection_pool_per_downstream_connection,
        &root,
        "connection_pool_per_downstream_connection",
    )?;
    reject_if(c.queuing_policies.is_some(), &root, "queuing_policies")?;
    reject_if(!c.dns_resolvers.is_empty(), &root, "dns_resolvers")?;
    reject_if(c.use_tcp_for_dns_lookups, &root, "use_tcp_for_dns_lookups")?;
    reject_if(
        c.dns_resolution_config.is_some(),
        &root,
        "dns_resolution_config",
    )?;
    reject_if(
        c.typed_dns_resolver_config.is_some(),
        &root,
        "typed_dns_resolver_config",
    )?;
    reject_if(
        c.dns_lookup_family == DnsLookupFamily::V6Only as i32,
        &root,
        "dns_lookup_family",
    )?;
    let thresholds = circuit_breakers(c, &root.field("circuit_breakers"))?;
    let kind = match &c.cluster_discovery_type {
        None => DiscoveryType::Static,
        Some(ClusterDiscoveryType::Type(t)) => DiscoveryType::try_from(*t)
            .map_err(|_| FieldError::new(root.field("type"), format!("unknown value {t}")))?,
        Some(ClusterDiscoveryType::ClusterType(_)) => {
            return Err(FieldError::unsupported(root.field("cluster_type")));
        }
    };
    let algorithm = lb::algorithm(c, kind, &root)?;
    let discovery = discovery(c, kind, &root)?;
    let connect_timeout = match &c.connect_timeout {
        None => DEFAULT_CONNECT_TIMEOUT,
        Some(d) => duration(d, &root.field("connect_timeout"))?,
    };
    // A new detector per compiled cluster: a CDS update starts its ejections afresh.
    let outlier = match &c.outlier_detection {
        None => None,
        Some(o) => Some(Arc::new(OutlierDetector::new(outlier_detection(
            o,
            &root.field("outlier_detection"),
        )?))),
    };
    let (protocol, connection) = options::protocol_and_connection(c, &root)?;
    // Last: it reads files, which is wasted when another field is refused.
    let tls = tls::transport_socket(c, &root)?;
    Ok(ClusterConfig {
        name: c.name.clone(),
        discovery,
        algorithm,
        connect_timeout,
        protocol,
        service: Arc::new(crate::stats::DestinationService::of_cluster(c)),
        breaker: Arc::new(CircuitBreaker::new(thresholds)),
        outlier,
        panic_threshold,
        connection,
        tls,
    })
}

fn discovery(c: &Cluster, kind: DiscoveryType, root: &FieldPath) -> Result<Discovery, FieldError> {
    let assignment_path = root.field("load_assignment");
    let empty = ClusterLoadAssignment {
        cluster_name: c.name.clone(),
        ..ClusterLoadAssignment::default()
    };
    let assignment = c.load_assignment.as_ref().unwrap_or(&empty);
    match kind {
        DiscoveryType::Eds => {
            let eds = c.eds_cluster_config.as_ref();
            let source = eds
                .and_then(|e| e.eds_config.as_ref())
                .and_then(|s| s.config_source_specifier.as_ref());
            if !matches!(source, None | Some(ConfigSourceSpecifier::Ads(_))) {
                return Err(FieldError::new(
                    root.field("eds_cluster_config").field("eds_config"),
                    "only `ads: {}` is supported by mesh-proxy",
                ));
            }
            let service_name = eds
                .map(|e| e.service_name.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| c.name.clone());
            Ok(Discovery::Eds { service_name })
        }
        DiscoveryType::Static => {
            let set = EndpointSet::compile(assignment)
                .map_err(|e| FieldError::new(join(&assignment_path, &e.path), e.reason))?;
            Ok(Discovery::Static(Arc::new(set)))
        }
        DiscoveryType::StrictDns => Ok(Discovery::StrictDns {
            hosts: dns_hosts(assignment, &assignment_path)?,
        }),
        DiscoveryType::LogicalDns => {
            let mut hosts = dns_hosts(assignment, &assignment_path)?;
            match (hosts.pop(), hosts.is_empty()) {
                (Some((host, port)), true) => Ok(Discovery::LogicalDns { host, port }),
                _ => Err(FieldError::new(
                    assignment_path,
                    "a LOGICAL_DNS cluster needs exactly one endpoint",
                )),
            }
        }
        DiscoveryType::OriginalDst => Ok(Discovery::OriginalDst),
    }
}

/// The `(hostname, port)` of every endpoint of a DNS cluster's assignment.
fn dns_hosts(
    assignment: &ClusterLoadAssignment,
    path: &FieldPath,
) -> Result<Vec<(String, u16)>, FieldError> {
    let mut hosts = Vec::new();
    for (i, locality) in assignment.endpoints.iter().enumerate() {
        let path = path.field("endpoints").index(i);
        for (j, lb) in locality.lb_endpoints.iter().enumerate() {
            let path = path.field("lb_endpoints").index(j);
            let endpoint = match &lb.host_identifier {
                Some(HostIdentifier::Endpoint(endpoint)) => endpoint,
                Some(HostIdentifier::EndpointName(_)) => {
                    return Err(FieldError::unsupported(path.field("endpoint_name")));
                }
                None => return Err(FieldError::new(path.field("endpoint"), "is required")),
            };
            let address_path = path.field("endpoint").field("address");
            hosts.push(host_and_port(endpoint.address.as_ref(), &address_path)?);
        }
    }
    if hosts.is_empty() {
        return Err(FieldError::new(
            path.field("endpoints"),
            "a DNS cluster needs at least one endpoint",
        ));
    }
    Ok(hosts)
}

/// The `DEFAULT` priority's thresholds; Envoy's defaults for what is unset.
fn circuit_breakers(c: &Cluster, path: &FieldPath) -> Result<Thresholds, FieldError> {
    let mut limits = Thresholds::default();
    let Some(breakers) = &c.circuit_breakers else {
        return Ok(limits);
    };
    reject_if(
        !breakers.per_host_thresholds.is_empty(),
        path,
        "per_host_thresholds",
    )?;
    let mut seen_default = false;
    for (i, t) in breakers.thresholds.iter().enumerate() {
        let path = path.field("thresholds").index(i);
        // Routes are served at the default priority, so limits for another one would never
        // apply; Istio only sets the default one.
        if t.priority != RoutingPriority::Default as i32 {
            return Err(FieldError::new(
                path.field("priority"),
                "only the DEFAULT priority is supported by mesh-proxy",
            ));
        }
        if std::mem::replace(&mut seen_default, true) {
            return Err(FieldError::new(
                path,
                "a second thresholds entry for the DEFAULT priority",
            ));
        }
        reject_if(t.retry_budget.is_some(), &path, "retry_budget")?;
        reject_if(
            t.max_connection_pools.is_some(),
            &path,
            "max_connection_pools",
        )?;
        let set =
            |limit: &Option<UInt32Value>, default: u32| limit.as_ref().map_or(default, |l| l.value);
        limits = Thresholds {
            max_connections: set(&t.max_connections, limits.max_connections),
            max_pending_requests: set(&t.max_pending_requests, limits.max_pending_requests),
            max_requests: set(&t.max_requests, limits.max_requests),
            max_retries: set(&t.max_retries, limits.max_retries),
        };
    }
    Ok(limits)
}

#[cfg(test)]
mod tests;
