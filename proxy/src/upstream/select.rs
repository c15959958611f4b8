//! Picking the endpoint for one request or connection from the current snapshot.

use std::{net::SocketAddr, sync::Arc};

use rand::Rng;

use crate::{
    balance::{InFlight, Outcome},
    config::{ClusterConfig, Discovery, Snapshot},
    response_flags::ResponseFlag,
};

/// The endpoint picked for a request or connection.
#[derive(Debug)]
pub struct Selected {
    /// Where to connect.
    pub address: SocketAddr,
    /// The cluster it belongs to.
    pub cluster: Arc<ClusterConfig>,
    /// Counts the request against the endpoint (for least-request balancing) until dropped;
    /// `None` for `ORIGINAL_DST` clusters, which have no endpoint set.
    pub in_flight: Option<InFlight>,
}

/// Why no endpoint could be picked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The route or filter names a cluster the snapshot does not have.
    #[error("unknown cluster {0:?}")]
    NoCluster(String),
    /// The cluster is known but has no available endpoint, or is still warming.
    #[error("no healthy upstream")]
    NoHealthyUpstream(String),
    /// An `ORIGINAL_DST` cluster was used for a connection with no original destination.
    #[error("no original destination for cluster {0:?}")]
    NoOriginalDestination(String),
}

impl Selected {
    /// Tells the cluster's outlier detector, if it has one, how the request or connection to
    /// this endpoint went.
    pub fn report(&self, outcome: Outcome) {
        if let Some(outlier) = &self.cluster.outlier {
            outlier.report(self.address, outcome, &mut rand::rng());
        }
    }
}

impl UpstreamError {
    /// The response flag this failure sets.
    pub fn response_flag(&self) -> ResponseFlag {
        match self {
            Self::NoCluster(_) => ResponseFlag::NoClusterFound,
            Self::NoHealthyUpstream(_) | Self::NoOriginalDestination(_) => {
                ResponseFlag::NoHealthyUpstream
            }
        }
    }
}

/// Picks an endpoint of `cluster` in `snapshot`. `original_dst` is the destination the
/// connection was captured for (or an HTTP request's target, as Envoy's
/// `use_http_header` does); `ORIGINAL_DST` clusters connect there.
pub fn select_endpoint<R: Rng + ?Sized>(
    snapshot: &Snapshot,
    cluster: &str,
    original_dst: Option<SocketAddr>,
    rng: &mut R,
) -> Result<Selected, UpstreamError> {
    select_hashed_endpoint(snapshot, cluster, original_dst, None, rng)
}

/// Picks as [`select_endpoint`] does, with the request's `hash` (from its route's
/// `hash_policy`) for ring-hash and Maglev clusters.
pub fn select_hashed_endpoint<R: Rng + ?Sized>(
    snapshot: &Snapshot,
    cluster: &str,
    original_dst: Option<SocketAddr>,
    hash: Option<u64>,
    rng: &mut R,
) -> Result<Selected, UpstreamError> {
    let config = snapshot
        .clusters
        .get(cluster)
        .ok_or_else(|| UpstreamError::NoCluster(cluster.to_owned()))?;
    if let Discovery::OriginalDst = config.discovery {
        let address =
            original_dst.ok_or_else(|| UpstreamError::NoOriginalDestination(cluster.to_owned()))?;
        return Ok(Selected {
            address,
            cluster: Arc::clone(config),
            in_flight: None,
        });
    }
    let endpoints = snapshot
        .endpoints
        .get(cluster)
        .ok_or_else(|| UpstreamError::NoHealthyUpstream(cluster.to_owned()))?;
    let endpoint = endpoints
        .pick_hashed(
            config.algorithm,
            config.outlier.as_deref(),
            hash,
            config.panic_threshold,
            rng,
        )
        .map_err(|_| UpstreamError::NoHealthyUpstream(cluster.to_owned()))?;
    Ok(Selected {
        address: endpoint.address,
        cluster: Arc::clone(config),
        in_flight: Some(endpoint.start_request()),
    })
}

#[cfg(test)]
mod tests;
