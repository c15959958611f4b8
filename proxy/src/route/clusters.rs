//! Where a forwarded request goes: one cluster, or a weighted split picked by a random number.
//!
//! Refused in `weighted_clusters`: `random_value_specifier` (`header_name`,
//! `use_hash_policy`); in each cluster: `cluster_header`, `metadata_match` and
//! `typed_per_filter_config`. `runtime_key_prefix` only names runtime overrides, which the proxy
//! does not have, so it is ignored.

use envoy_types::pb::envoy::config::route::v3::{
    WeightedCluster, weighted_cluster::cluster_weight::HostRewriteSpecifier,
};
use mesh_common::path::FieldPath;

use super::header_edits::HeaderEdits;
use crate::config_error::{FieldError, reject_if};

/// The clusters a route forwards to.
#[derive(Clone, Debug)]
pub enum Clusters {
    /// Every request goes to one cluster.
    Single(ClusterTarget),
    /// Requests are split by weight.
    Weighted {
        targets: Vec<ClusterTarget>,
        /// Running sums of the weights, for a binary search.
        cumulative: Vec<u64>,
    },
}

/// One upstream cluster, with the edits that apply when it is picked from a weighted split.
#[derive(Clone, Debug)]
pub struct ClusterTarget {
    /// The cluster's name.
    pub name: String,
    /// Its weight in a split (1 for a single cluster).
    pub weight: u32,
    /// Request header edits for this cluster.
    pub request_headers: HeaderEdits,
    /// Response header edits for this cluster.
    pub response_headers: HeaderEdits,
    /// A `host_rewrite_literal` for this cluster.
    pub host_rewrite: Option<String>,
}

// === impl Clusters ===

impl Clusters {
    /// A single named cluster found at `path`.
    pub fn single(name: &str, path: &FieldPath) -> Result<Self, FieldError> {
        if name.is_empty() {
            return Err(FieldError::new(path.clone(), "must not be empty"));
        }
        Ok(Self::Single(ClusterTarget {
            name: name.to_owned(),
            weight: 1,
            request_headers: HeaderEdits::default(),
            response_headers: HeaderEdits::default(),
            host_rewrite: None,
        }))
    }

    /// A `weighted_clusters` found at `path`.
    #[allow(deprecated)]
    pub fn weighted(w: &WeightedCluster, path: &FieldPath) -> Result<Self, FieldError> {
        reject_if(
            w.random_value_specifier.is_some(),
            path,
            "random_value_specifier",
        )?;
        if w.clusters.is_empty() {
            return Err(FieldError::new(path.field("clusters"), "must not be empty"));
        }
        let mut targets = Vec::with_capacity(w.clusters.len());
        let mut cumulative = Vec::with_capacity(w.clusters.len());
        let mut total = 0u64;
        for (i, c) in w.clusters.iter().enumerate() {
            let path = path.field("clusters").index(i);
            reject_if(!c.cluster_header.is_empty(), &path, "cluster_header")?;
            reject_if(c.metadata_match.is_some(), &path, "metadata_match")?;
            reject_if(
                !c.typed_per_filter_config.is_empty(),
                &path,
                "typed_per_filter_config",
            )?;
            if c.name.is_empty() {
                return Err(FieldError::new(path.field("name"), "must not be empty"));
            }
            let weight = c.weight.as_ref().map_or(0, |w| w.value);
            total += u64::from(weight);
            cumulative.push(total);
            targets.push(ClusterTarget {
                name: c.name.clone(),
                weight,
                request_headers: HeaderEdits::compile(
                    &c.request_headers_to_add,
                    &path.field("request_headers_to_add"),
                    &c.request_headers_to_remove,
                    &path.field("request_headers_to_remove"),
                )?,
                response_headers: HeaderEdits::compile(
                    &c.response_headers_to_add,
                    &path.field("response_headers_to_add"),
                    &c.response_headers_to_remove,
                    &path.field("response_headers_to_remove"),
                )?,
                host_rewrite: c.host_rewrite_specifier.as_ref().map(|spec| match spec {
                    HostRewriteSpecifier::HostRewriteLiteral(host) => host.clone(),
                }),
            });
        }
        if total == 0 {
            return Err(FieldError::new(
                path.field("clusters"),
                "the weights must add up to more than zero",
            ));
        }
        if let Some(declared) = &w.total_weight
            && u64::from(declared.value) != total
        {
            return Err(FieldError::new(
                path.field("total_weight"),
                format!(
                    "is {} but the cluster weights add up to {total}",
                    declared.value
                ),
            ));
        }
        Ok(Self::Weighted {
            targets,
            cumulative,
        })
    }

    /// The cluster for a request, given a uniformly random number (any `u64`).
    pub fn pick(&self, random: u64) -> &ClusterTarget {
        match self {
            Self::Single(target) => target,
            Self::Weighted {
                targets,
                cumulative,
            } => {
                // `compile` guarantees a non-empty list with a positive total.
                let total = cumulative.last().copied().unwrap_or(1);
                let point = random % total;
                let index = cumulative.partition_point(|&sum| sum <= point);
                &targets[index.min(targets.len() - 1)]
            }
        }
    }

    /// Every cluster this route may send to.
    pub fn targets(&self) -> &[ClusterTarget] {
        match self {
            Self::Single(target) => std::slice::from_ref(target),
            Self::Weighted { targets, .. } => targets,
        }
    }
}
