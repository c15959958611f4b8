//! xDS resources compiled into the [`Snapshot`](crate::config::Snapshot)'s types, and the
//! functions that apply a response (or the bootstrap's static resources) to a snapshot.
//!
//! Compilation refuses, with the exact field path, anything that would change what happens to
//! traffic and that the proxy does not implement, so that the control plane learns about it
//! from the NACK instead of traffic being silently mishandled. Fields that only concern stats,
//! tracing, logging or admin output are ignored. Each module lists what it refuses and what it
//! ignores: `listener.rs` (listeners, filter chains, listener filters), `network.rs`
//! (`http_connection_manager` and `tcp_proxy`) and `cluster.rs`.

mod apply;
mod cluster;
mod common;
mod dns;
mod known_clusters;
mod listener;
mod network;
mod outlier;

pub use self::{
    apply::{
        apply_clusters, apply_endpoints, apply_listeners, apply_routes, apply_secrets,
        eds_service_names, rds_route_names, sds_secret_names, sotw_removals,
    },
    cluster::compile_cluster,
    dns::{DnsAnswers, refresh_dns, refresh_dns_forever},
    listener::compile_listener,
};

#[cfg(test)]
mod mutation_tests;
#[cfg(test)]
mod tests;
