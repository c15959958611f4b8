//! `validate_clusters` of a listener's inline `route_config`: Envoy refuses a static route
//! table naming a cluster its cluster manager does not know. The field defaults to true for a
//! `route_config` inside a connection manager, and to false over RDS, whose tables keep
//! answering a missing cluster with `cluster_not_found_response_code` (`NC`).
//!
//! A tracer's collector cluster is checked the same way (Envoy refuses a gRPC service whose
//! cluster it does not know).
//!
//! Checked when a listener is applied, against the clusters of the snapshot being built: over
//! ADS, clusters arrive before the listeners that use them, and the bootstrap applies its static
//! clusters before its static listeners, as Envoy does.

use envoy_types::pb::envoy::{
    config::{
        listener::v3::{FilterChain, Listener, filter},
        route::v3::{RouteConfiguration, route::Action, route_action::ClusterSpecifier},
    },
    extensions::filters::network::http_connection_manager::v3::{
        HttpConnectionManager as PbHcm, http_connection_manager::RouteSpecifier,
    },
};
use mesh_common::path::FieldPath;
use prost::{Message, Name};

use crate::{
    config::{ListenerConfig, NetworkFilter},
    config_error::{ConfigError, FieldError},
};

/// Refuses `listener` when an inline `route_config` with `validate_clusters` (default true)
/// names a cluster for which `known` is false.
pub(super) fn check_known_clusters(
    listener: &Listener,
    known: impl Fn(&str) -> bool,
) -> Result<(), ConfigError> {
    let root = FieldPath::root();
    let chains = listener
        .filter_chains
        .iter()
        .enumerate()
        .map(|(i, chain)| (chain, root.field("filter_chains").index(i)))
        .chain(
            listener
                .default_filter_chain
                .iter()
                .map(|chain| (chain, root.field("default_filter_chain"))),
        );
    for (chain, path) in chains {
        check_chain(chain, &path, &known).map_err(|e| e.in_resource("Listener", &listener.name))?;
    }
    Ok(())
}

/// Refuses `listener` when a connection manager's tracer exports to a cluster for which `known`
/// is false, as Envoy refuses a gRPC service naming an unknown cluster.
pub(super) fn check_tracing_clusters(
    listener: &ListenerConfig,
    known: impl Fn(&str) -> bool,
) -> Result<(), ConfigError> {
    let managers = listener
        .filter_chains
        .iter()
        .chain(&listener.default_filter_chain)
        .filter_map(|chain| match &chain.filter {
            NetworkFilter::Http(hcm) => hcm.tracing.as_ref(),
            NetworkFilter::Tcp(_) => None,
        });
    for tracing in managers {
        let service = &tracing.service;
        if !known(&service.cluster) {
            return Err(FieldError::new(
                service.cluster_path.clone(),
                format!(
                    "unknown cluster {:?}: the tracer's collector must be a known cluster",
                    service.cluster
                ),
            )
            .in_resource("Listener", &listener.name));
        }
    }
    Ok(())
}

fn check_chain(
    chain: &FilterChain,
    path: &FieldPath,
    known: &impl Fn(&str) -> bool,
) -> Result<(), FieldError> {
    for (i, f) in chain.filters.iter().enumerate() {
        let Some(filter::ConfigType::TypedConfig(any)) = &f.config_type else {
            continue;
        };
        if any.type_url != PbHcm::type_url() {
            continue;
        }
        // The listener compiled, so this decodes; a failure here has nothing left to check.
        let Ok(hcm) = PbHcm::decode(any.value.as_slice()) else {
            continue;
        };
        if let Some(RouteSpecifier::RouteConfig(config)) = &hcm.route_specifier {
            let path = path
                .field("filters")
                .index(i)
                .field("typed_config")
                .field("route_config");
            check_route_config(config, &path, known)?;
        }
    }
    Ok(())
}

fn check_route_config(
    config: &RouteConfiguration,
    path: &FieldPath,
    known: &impl Fn(&str) -> bool,
) -> Result<(), FieldError> {
    if !config.validate_clusters.as_ref().is_none_or(|v| v.value) {
        return Ok(());
    }
    let unknown = |name: &str, path: FieldPath| {
        if known(name) {
            Ok(())
        } else {
            Err(FieldError::new(
                path,
                format!(
                    "unknown cluster {name:?}: an inline route_config validates its clusters \
                     unless validate_clusters is false"
                ),
            ))
        }
    };
    for (v, vhost) in config.virtual_hosts.iter().enumerate() {
        for (r, route) in vhost.routes.iter().enumerate() {
            let Some(Action::Route(action)) = &route.action else {
                continue;
            };
            let path = path
                .field("virtual_hosts")
                .index(v)
                .field("routes")
                .index(r)
                .field("route");
            match &action.cluster_specifier {
                Some(ClusterSpecifier::Cluster(name)) => unknown(name, path.field("cluster"))?,
                Some(ClusterSpecifier::WeightedClusters(weighted)) => {
                    for (k, cluster) in weighted.clusters.iter().enumerate() {
                        let path = path
                            .field("weighted_clusters")
                            .field("clusters")
                            .index(k)
                            .field("name");
                        unknown(&cluster.name, path)?;
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
