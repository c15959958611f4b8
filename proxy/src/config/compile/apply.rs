//! Applying a response's resources to a [`Snapshot`].
//!
//! Every function compiles all the resources first and changes the snapshot only when all of
//! them compile, so that one bad resource refuses the whole response (the NACK) and, run inside
//! [`ConfigStore::update`], leaves the published snapshot untouched. Both xDS variants use the
//! same functions: delta passes its upserts and removals; state of the world passes the full
//! set and, for listeners and clusters, the names that disappeared from it (see
//! [`sotw_removals`]).
//!
//! Clusters and listeners whose TLS references secrets over SDS warm until the secrets arrive
//! (see `sds.rs`); references without `sds_config` name the bootstrap's static secrets.
//!
//! [`ConfigStore::update`]: crate::config::ConfigStore::update

use std::{
    collections::{BTreeSet, HashSet},
    sync::Arc,
};

use envoy_types::pb::envoy::config::{
    cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
    route::v3::RouteConfiguration,
};
use mesh_common::path::FieldPath;

use super::{
    dns::DnsAnswers,
    known_clusters::{check_known_clusters, check_tracing_clusters},
};
use crate::{
    balance::EndpointSet,
    config::{ClusterConfig, Discovery, Snapshot},
    config_error::ConfigError,
    route::RouteTable,
};

mod sds;

use self::sds::{
    Prepared, PreparedListener, forget_unreferenced, prepare, prepare_listener, route_names, warm,
    warm_listener,
};
pub use self::sds::{apply_secrets, sds_secret_names};

/// Applies LDS: upserts `updates`, then removes `removals`. An inline `route_config` must only
/// name clusters the snapshot already has, unless its `validate_clusters` is false. A listener
/// whose chains reference a secret over SDS that has not arrived warms (see `sds/listener.rs`);
/// secrets no cluster or listener references any more are dropped.
pub fn apply_listeners(
    snapshot: &mut Snapshot,
    updates: &[Listener],
    removals: &[String],
) -> Result<(), ConfigError> {
    unique("Listener", updates.iter().map(|l| l.name.as_str()))?;
    let prepared = updates
        .iter()
        .map(|l| prepare_listener(l, &snapshot.static_secrets, &snapshot.secrets))
        .collect::<Result<Vec<_>, _>>()?;
    // A warming cluster is known, as in Envoy: it becomes usable when its secrets arrive.
    let known = |name: &str| {
        snapshot.clusters.contains_key(name) || snapshot.warming_clusters.contains_key(name)
    };
    for listener in updates {
        check_known_clusters(listener, known)?;
    }
    for prepared in &prepared {
        let (PreparedListener::Active { config, .. } | PreparedListener::Warming { config, .. }) =
            prepared;
        check_tracing_clusters(config, known)?;
    }
    for prepared in prepared {
        match prepared {
            PreparedListener::Active { config, sds } => {
                let name = config.name.clone();
                match sds {
                    Some(sds) => snapshot.sds_listeners.insert(name.clone(), sds),
                    None => snapshot.sds_listeners.remove(&name),
                };
                snapshot.warming_listeners.remove(&name);
                snapshot.listeners.insert(name, Arc::new(config));
            }
            PreparedListener::Warming {
                config,
                sds,
                missing,
            } => warm_listener(snapshot, &config, sds, missing),
        }
    }
    for name in removals {
        snapshot.listeners.remove(name);
        snapshot.sds_listeners.remove(name);
        snapshot.warming_listeners.remove(name);
    }
    forget_unreferenced(snapshot);
    Ok(())
}

/// Applies RDS: upserts `updates`, then removes `removals`. A listener whose route name has
/// no table answers 404 (`NR`) until it arrives.
pub fn apply_routes(
    snapshot: &mut Snapshot,
    updates: &[RouteConfiguration],
    removals: &[String],
) -> Result<(), ConfigError> {
    unique(
        "RouteConfiguration",
        updates.iter().map(|r| r.name.as_str()),
    )?;
    let compiled = updates
        .iter()
        .map(RouteTable::compile)
        .collect::<Result<Vec<_>, _>>()?;
    for table in compiled {
        snapshot
            .routes
            .insert(table.name().to_owned(), Arc::new(table));
    }
    for name in removals {
        snapshot.routes.remove(name);
    }
    Ok(())
}

/// Applies CDS: upserts `updates`, then removes `removals` together with their endpoints.
///
/// An updated EDS cluster keeps the endpoints it had when its `service_name` is unchanged, or
/// shares those of another cluster with the same `service_name`; otherwise it has none, and
/// answers `UH`, until its assignment arrives. DNS clusters take their endpoints from `dns`
/// (see [`DnsAnswers::resolve`]). A cluster whose TLS references a secret over SDS that has not
/// arrived warms (see `sds.rs`); secrets no cluster references any more are dropped.
pub fn apply_clusters(
    snapshot: &mut Snapshot,
    updates: &[Cluster],
    removals: &[String],
    dns: &DnsAnswers,
) -> Result<(), ConfigError> {
    unique("Cluster", updates.iter().map(|c| c.name.as_str()))?;
    let prepared = updates
        .iter()
        .map(|c| prepare(c, &snapshot.static_secrets, &snapshot.secrets))
        .collect::<Result<Vec<_>, _>>()?;
    for name in removals {
        snapshot.clusters.remove(name);
        snapshot.endpoints.remove(name);
        snapshot.sds_clusters.remove(name);
        snapshot.warming_clusters.remove(name);
    }
    for prepared in prepared {
        let (config, sds) = match prepared {
            Prepared::Active { config, sds } => (config, sds),
            Prepared::Warming {
                config,
                sds,
                missing,
            } => {
                warm(snapshot, &config, sds, missing, dns);
                continue;
            }
        };
        let endpoints = endpoints_for(snapshot, &config, dns);
        let name = config.name.clone();
        match endpoints {
            Some(set) => snapshot.endpoints.insert(name.clone(), set),
            None => snapshot.endpoints.remove(&name),
        };
        match sds {
            Some(sds) => snapshot.sds_clusters.insert(name.clone(), sds),
            None => snapshot.sds_clusters.remove(&name),
        };
        snapshot.warming_clusters.remove(&name);
        snapshot.clusters.insert(name, Arc::new(config));
    }
    forget_unreferenced(snapshot);
    Ok(())
}

fn endpoints_for(
    snapshot: &Snapshot,
    config: &ClusterConfig,
    dns: &DnsAnswers,
) -> Option<Arc<EndpointSet>> {
    match &config.discovery {
        Discovery::Static(set) => Some(Arc::clone(set)),
        Discovery::StrictDns { .. } | Discovery::LogicalDns { .. } => dns
            .endpoints(
                config,
                snapshot.endpoints.get(&config.name).map(Arc::as_ref),
            )
            .map(Arc::new),
        Discovery::OriginalDst => None,
        Discovery::Eds { service_name } => {
            let same_service = |name: &str| {
                snapshot.clusters.get(name).is_some_and(|c| {
                    matches!(&c.discovery, Discovery::Eds { service_name: s } if s == service_name)
                })
            };
            if same_service(&config.name)
                && let Some(set) = snapshot.endpoints.get(&config.name)
            {
                return Some(Arc::clone(set));
            }
            snapshot
                .endpoints
                .iter()
                .find(|(name, _)| same_service(name))
                .map(|(_, set)| Arc::clone(set))
        }
    }
}

/// Applies EDS: each assignment goes to every EDS cluster whose `service_name` it names,
/// keeping the in-flight counts of endpoints that stay; a removed assignment leaves its clusters
/// without endpoints. Assignments no cluster names are still compiled, so that a bad one is
/// refused.
pub fn apply_endpoints(
    snapshot: &mut Snapshot,
    updates: &[ClusterLoadAssignment],
    removals: &[String],
) -> Result<(), ConfigError> {
    unique(
        "ClusterLoadAssignment",
        updates.iter().map(|c| c.cluster_name.as_str()),
    )?;
    let mut next = Vec::new();
    let mut warming = Vec::new();
    for cla in updates {
        let clusters = eds_clusters(snapshot, &cla.cluster_name);
        let sets = sds::warming_endpoints(snapshot, cla)?;
        if clusters.is_empty() && sets.is_empty() {
            EndpointSet::compile(cla)?;
        }
        for cluster in clusters {
            let set = match snapshot.endpoints.get(&cluster) {
                Some(previous) => previous.update(cla)?,
                None => EndpointSet::compile(cla)?,
            };
            next.push((cluster, Arc::new(set)));
        }
        warming.extend(sets);
    }
    for (cluster, set) in next {
        snapshot.endpoints.insert(cluster, set);
    }
    for (cluster, set) in warming {
        sds::set_warming_endpoints(snapshot, &cluster, Some(set));
    }
    for service in removals {
        for cluster in eds_clusters(snapshot, service) {
            snapshot.endpoints.remove(&cluster);
        }
        for cluster in sds::warming_eds_clusters(snapshot, service) {
            sds::set_warming_endpoints(snapshot, &cluster, None);
        }
    }
    Ok(())
}

/// The EDS clusters whose endpoints come from the assignment named `service`.
fn eds_clusters(snapshot: &Snapshot, service: &str) -> Vec<String> {
    snapshot
        .clusters
        .values()
        .filter(
            |c| matches!(&c.discovery, Discovery::Eds { service_name } if service_name == service),
        )
        .map(|c| c.name.clone())
        .collect()
}

/// State of the world for listeners and clusters: the names of `previous` (the dynamic
/// resources last accepted) missing from the new full set, which Envoy removes.
pub fn sotw_removals<'a>(
    previous: impl IntoIterator<Item = &'a String>,
    current: impl IntoIterator<Item = &'a str>,
) -> Vec<String> {
    let current: HashSet<&str> = current.into_iter().collect();
    previous
        .into_iter()
        .filter(|name| !current.contains(name.as_str()))
        .cloned()
        .collect()
}

/// The assignment names the snapshot's EDS clusters, active and warming, fetch over EDS.
pub fn eds_service_names(snapshot: &Snapshot) -> BTreeSet<String> {
    snapshot
        .clusters
        .values()
        .filter_map(|c| match &c.discovery {
            Discovery::Eds { service_name } => Some(service_name.clone()),
            _ => None,
        })
        .chain(
            snapshot
                .warming_clusters
                .values()
                .filter_map(|w| w.eds_service.clone()),
        )
        .collect()
}

/// The route configuration names the snapshot's listeners, active and warming, fetch over RDS.
pub fn rds_route_names(snapshot: &Snapshot) -> BTreeSet<String> {
    let warming = snapshot.warming_listeners.values();
    snapshot
        .listeners
        .values()
        .flat_map(|l| route_names(l))
        .chain(warming.flat_map(|w| w.routes.iter().cloned()))
        .collect()
}

/// Envoy refuses a response that names one resource twice.
fn unique<'a>(kind: &'static str, names: impl Iterator<Item = &'a str>) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(ConfigError {
                kind,
                name: name.to_owned(),
                path: FieldPath::root().field("name"),
                reason: "appears more than once in the response".to_owned(),
            });
        }
    }
    Ok(())
}
