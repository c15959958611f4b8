//! The ADS client: keeps the [`ConfigStore`] in step with the control plane.
//!
//! One task holds one aggregated stream, state of the world or delta. It subscribes to every
//! cluster and listener (wildcard), to the assignment of every EDS cluster, to the secrets that
//! clusters' TLS references over SDS and to the route configuration of every RDS listener
//! (named subscriptions that follow the clusters and listeners), applies each response to the
//! store as a whole, and ACKs it — or NACKs it with
//! the [`ConfigError`](crate::config_error::ConfigError) text as `error_detail` (gRPC code 3,
//! `INVALID_ARGUMENT`) while the last good configuration keeps serving.
//!
//! Warming is the server's push order plus the snapshot's own rules: a cluster without an
//! assignment has no endpoints (`UH`), a cluster whose secrets have not arrived is not active
//! yet (`NC`, or its previous version serves), and a listener whose RDS table has not arrived
//! answers 404 (`NR`). When the stream fails the proxy keeps serving what it has and reconnects with
//! jittered exponential backoff (100 ms doubling to 15 s), re-sending its subscriptions with
//! the versions it holds. [`XdsState`] exposes the raw accepted resources and per-type progress
//! (version, ACK and NACK counts, the last NACK) to the admin server and the metrics.

mod apply;
mod backoff;
mod delta;
mod sotw;
mod state;
mod stream;
mod subscriptions;

use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::Node;
use rand::SeedableRng;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

use self::apply::Applier;
pub use self::{
    backoff::Backoff,
    state::{AcceptedResource, ErrorState, TypeStatus, XdsState, XdsStatus},
};
use crate::{bootstrap::AdsConfig, config::ConfigStore};

/// `google.rpc.Code.INVALID_ARGUMENT`, the code of a NACK's `error_detail`.
const INVALID_ARGUMENT: i32 = 3;

/// The running client. Dropping it stops the client; the store keeps its last configuration.
#[derive(Debug)]
pub struct XdsClient {
    state: Arc<XdsState>,
    task: JoinHandle<()>,
}

// === impl XdsClient ===

impl XdsClient {
    /// Starts the client on the current runtime: connects to `ads`, identifies as `node`, and
    /// applies what it receives to `store`. `delta` picks the incremental protocol (the
    /// command line's `--xds-delta`), whatever the bootstrap's `api_type` says.
    pub fn spawn(ads: AdsConfig, node: Node, store: Arc<ConfigStore>, delta: bool) -> Self {
        let state = Arc::new(XdsState::default());
        let applier = Applier {
            store,
            state: Arc::clone(&state),
        };
        let task = tokio::spawn(run(ads, node, applier, delta));
        Self { state, task }
    }

    /// The client's progress, for the admin server.
    pub fn state(&self) -> Arc<XdsState> {
        Arc::clone(&self.state)
    }
}

impl Drop for XdsClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run(ads: AdsConfig, node: Node, applier: Applier, delta: bool) {
    let mut backoff = Backoff::DEFAULT;
    let mut rng = rand::rngs::SmallRng::from_os_rng();
    loop {
        let mut received = false;
        match connect(&ads).await {
            Ok(channel) => {
                tracing::info!(cluster = %ads.cluster, delta, "ADS stream connecting");
                let ended = if delta {
                    delta::run(channel, &node, &applier, &mut received).await
                } else {
                    sotw::run(channel, &node, &applier, &mut received).await
                };
                applier.state.set_connected(false);
                match ended {
                    Ok(()) => tracing::warn!("ADS stream closed by the server"),
                    Err(status) => tracing::warn!(%status, "ADS stream failed"),
                }
            }
            Err(error) => tracing::warn!(cluster = %ads.cluster, %error, "ADS connection failed"),
        }
        if received {
            backoff.reset();
        }
        tokio::time::sleep(backoff.next_delay(&mut rng)).await;
    }
}

/// Connects to the first of the cluster's targets that answers.
async fn connect(ads: &AdsConfig) -> Result<Channel, String> {
    let mut last = String::from("the cluster has no endpoints");
    for (host, port) in &ads.targets {
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let endpoint = match Endpoint::from_shared(format!("http://{authority}")) {
            Ok(endpoint) => endpoint,
            Err(error) => {
                last = format!("{authority}: {error}");
                continue;
            }
        };
        match endpoint
            .connect_timeout(ads.connect_timeout)
            .http2_keep_alive_interval(std::time::Duration::from_secs(30))
            .keep_alive_timeout(std::time::Duration::from_secs(10))
            .connect()
            .await
        {
            Ok(channel) => return Ok(channel),
            Err(error) => last = format!("{authority}: {error}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests;
