//! The proxy's live configuration: xDS resources compiled into the shapes the data path reads,
//! published as one immutable [`Snapshot`] that is swapped atomically.
//!
//! The xDS client (or the bootstrap's static resources) compiles each resource as it arrives;
//! a resource that does not compile is refused with a [`ConfigError`] and the previous snapshot
//! keeps serving. Readers load the current snapshot once per connection or request and never
//! see a half-applied update.
//!
//! [`ConfigError`]: crate::config_error::ConfigError

mod cluster;
mod compile;
mod listener;
mod store;

pub use self::listener::ChainTls;
pub use self::{
    cluster::{ClusterConfig, ConnectionOptions, Discovery, TcpKeepalive, UpstreamProtocol},
    compile::{
        DnsAnswers, apply_clusters, apply_endpoints, apply_listeners, apply_routes, apply_secrets,
        compile_cluster, compile_listener, eds_service_names, rds_route_names, refresh_dns,
        refresh_dns_forever, sds_secret_names, sotw_removals,
    },
    listener::{
        CidrRange, Codec, FilterChain, FilterChainMatch, HttpConnectionManager, ListenerConfig,
        MaxDuration, NetworkFilter, RouteSource, TcpProxy, TrafficDirection,
    },
    store::{ConfigStore, SdsCluster, SdsListener, Snapshot, WarmingCluster, WarmingListener},
};
