//! `envoy.filters.network.tcp_proxy`: the cluster or weighted clusters, the idle timeout and
//! the maximum connection duration.
//!
//! Refused: `on_demand`, `metadata_match`, `downstream_idle_timeout`,
//! `upstream_idle_timeout`, `max_connect_attempts`, `backoff_options`, `hash_policy`,
//! `tunneling_config`, `proxy_protocol_tlvs`, `upstream_connect_mode`, `max_early_data_bytes`,
//! and a weighted cluster's `metadata_match`. `max_downstream_connection_duration` (with its
//! jitter) is honoured: the connection is closed, flag `DT`, when it elapses. Ignored:
//! `access_log_flush_interval`, `flush_access_log_on_connected`, `access_log_options`,
//! `proxy_protocol_tlv_merge_policy`, `check_drain_close`, and
//! `max_downstream_connection_duration_jitter_percentage` without a maximum duration (nothing
//! to jitter).

use std::time::Duration;

use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{
    TcpProxy as PbTcpProxy, tcp_proxy::ClusterSpecifier, tcp_proxy::WeightedCluster,
};
use mesh_common::path::FieldPath;

use super::super::common::{duration, timeout};
use crate::{
    config::{MaxDuration, TcpProxy},
    config_error::{FieldError, reject_if},
    route::{ClusterTarget, Clusters, HeaderEdits},
};

/// Envoy's default `TcpProxy.idle_timeout`.
const DEFAULT_TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

#[allow(deprecated)]
pub(super) fn tcp_proxy(t: &PbTcpProxy, path: &FieldPath) -> Result<TcpProxy, FieldError> {
    reject_if(t.on_demand.is_some(), path, "on_demand")?;
    reject_if(t.metadata_match.is_some(), path, "metadata_match")?;
    reject_if(
        t.downstream_idle_timeout.is_some(),
        path,
        "downstream_idle_timeout",
    )?;
    reject_if(
        t.upstream_idle_timeout.is_some(),
        path,
        "upstream_idle_timeout",
    )?;
    reject_if(
        t.max_connect_attempts.is_some(),
        path,
        "max_connect_attempts",
    )?;
    reject_if(t.backoff_options.is_some(), path, "backoff_options")?;
    reject_if(!t.hash_policy.is_empty(), path, "hash_policy")?;
    reject_if(t.tunneling_config.is_some(), path, "tunneling_config")?;
    reject_if(
        !t.proxy_protocol_tlvs.is_empty(),
        path,
        "proxy_protocol_tlvs",
    )?;
    reject_if(t.upstream_connect_mode != 0, path, "upstream_connect_mode")?;
    reject_if(
        t.max_early_data_bytes.is_some(),
        path,
        "max_early_data_bytes",
    )?;
    let clusters = match &t.cluster_specifier {
        Some(ClusterSpecifier::Cluster(name)) => Clusters::single(name, &path.field("cluster"))?,
        Some(ClusterSpecifier::WeightedClusters(w)) => {
            weighted(w, &path.field("weighted_clusters"))?
        }
        None => {
            return Err(FieldError::new(
                path.field("cluster"),
                "one of cluster and weighted_clusters is required",
            ));
        }
    };
    Ok(TcpProxy {
        stat_prefix: t.stat_prefix.clone(),
        clusters,
        idle_timeout: timeout(
            t.idle_timeout.as_ref(),
            Some(DEFAULT_TCP_IDLE_TIMEOUT),
            &path.field("idle_timeout"),
        )?,
        access_log: !t.access_log.is_empty(),
        max_duration: max_duration(t, path)?,
        // Set by the chain when an `sni_cluster` filter precedes this one.
        sni_cluster: false,
    })
}

/// `max_downstream_connection_duration` (at least 1 ms, as Envoy requires) and its jitter
/// (0–100 %, ignored without a maximum, as in Envoy).
fn max_duration(t: &PbTcpProxy, path: &FieldPath) -> Result<Option<MaxDuration>, FieldError> {
    let Some(d) = &t.max_downstream_connection_duration else {
        return Ok(None);
    };
    let duration_path = path.field("max_downstream_connection_duration");
    let duration = duration(d, &duration_path)?;
    if duration < Duration::from_millis(1) {
        return Err(FieldError::new(duration_path, "must be at least 1ms"));
    }
    let jitter_percent = match &t.max_downstream_connection_duration_jitter_percentage {
        None => 0.0,
        Some(p) if (0.0..=100.0).contains(&p.value) => p.value,
        Some(p) => {
            return Err(FieldError::new(
                path.field("max_downstream_connection_duration_jitter_percentage")
                    .field("value"),
                format!("{} is not a percentage between 0 and 100", p.value),
            ));
        }
    };
    Ok(Some(MaxDuration {
        duration,
        jitter_percent,
    }))
}

/// A TCP proxy's `weighted_clusters`: its own message, simpler than a route's.
fn weighted(w: &WeightedCluster, path: &FieldPath) -> Result<Clusters, FieldError> {
    if w.clusters.is_empty() {
        return Err(FieldError::new(path.field("clusters"), "must not be empty"));
    }
    let mut targets = Vec::with_capacity(w.clusters.len());
    let mut cumulative = Vec::with_capacity(w.clusters.len());
    let mut total = 0u64;
    for (i, c) in w.clusters.iter().enumerate() {
        let path = path.field("clusters").index(i);
        reject_if(c.metadata_match.is_some(), &path, "metadata_match")?;
        if c.name.is_empty() {
            return Err(FieldError::new(path.field("name"), "must not be empty"));
        }
        total += u64::from(c.weight);
        cumulative.push(total);
        targets.push(ClusterTarget {
            name: c.name.clone(),
            weight: c.weight,
            request_headers: HeaderEdits::default(),
            response_headers: HeaderEdits::default(),
            host_rewrite: None,
        });
    }
    if total == 0 {
        return Err(FieldError::new(
            path.field("clusters"),
            "the weights must add up to more than zero",
        ));
    }
    Ok(Clusters::Weighted {
        targets,
        cumulative,
    })
}
