//! Clusters whose TLS references secrets over SDS, and the secrets themselves; listeners
//! follow the same design (see `sds/listener.rs`).
//!
//! A cluster's references are resolved against the snapshot's secrets when the cluster is
//! applied (see [`resolve_common`]): without `sds_config` against the bootstrap's static
//! secrets, with one against the secrets received over SDS. With every secret there, it is compiled and active as any
//! other; otherwise it is warming: checked (compiled without the missing secrets, so that a
//! mistake elsewhere is refused at once), kept aside with the endpoints it gathers, and not
//! usable until the missing secrets arrive. An updated cluster that warms leaves its previous
//! version active meanwhile, as Envoy does.
//!
//! A secret is checked when it arrives ([`DynamicSecret::check`]). A changed secret rebuilds the
//! TLS of every active cluster that references it (keeping its circuit breakers and outlier
//! state; new connections use the new secret, pooled ones stay), the TLS of the listener
//! chains that reference it, and activates the warming clusters and listeners it completes. A secret that changes nothing (state of the world sends them all
//! again) rebuilds nothing.

use std::{collections::BTreeSet, sync::Arc};

use envoy_types::pb::{
    envoy::{
        config::{
            cluster::v3::Cluster, core::v3::transport_socket::ConfigType,
            endpoint::v3::ClusterLoadAssignment,
        },
        extensions::transport_sockets::tls::v3::{Secret, UpstreamTlsContext},
    },
    google::protobuf::Any,
};
use mesh_common::path::FieldPath;
use prost::{Message, Name};

pub(super) use self::listener::{PreparedListener, prepare_listener, route_names, warm_listener};
use super::{endpoints_for, unique};
use crate::{
    balance::EndpointSet,
    config::{
        ClusterConfig, Discovery, DnsAnswers, SdsCluster, Snapshot, WarmingCluster, compile_cluster,
    },
    config_error::ConfigError,
    tls::{
        DynamicSecret, DynamicSecrets, Resolution, StaticSecrets, referenced_secrets,
        resolve_common,
    },
};

mod listener;

const CLUSTER: &str = "Cluster";

/// A cluster of a response, compiled against the snapshot's secrets.
pub(super) enum Prepared {
    /// Usable now; `sds` when its TLS references secrets over SDS.
    Active {
        config: ClusterConfig,
        sds: Option<Arc<SdsCluster>>,
    },
    /// Waiting for `missing`; `config` is compiled without them, for its discovery.
    Warming {
        config: ClusterConfig,
        sds: Arc<SdsCluster>,
        missing: BTreeSet<String>,
    },
}

/// Resolves `cluster`'s secret references (static ones against `statics`, SDS ones against
/// `secrets`) and compiles it.
pub(super) fn prepare(
    cluster: &Cluster,
    statics: &StaticSecrets,
    secrets: &DynamicSecrets,
) -> Result<Prepared, ConfigError> {
    let Some(mut context) = upstream_context(cluster) else {
        return Ok(Prepared::Active {
            config: compile_cluster(cluster)?,
            sds: None,
        });
    };
    let common = context.common_tls_context.clone().unwrap_or_default();
    let names = referenced_secrets(&common);
    let path = FieldPath::parse("transport_socket.typed_config.common_tls_context");
    let resolution = resolve_common(&common, Some(statics), secrets, &path)
        .map_err(|e| e.in_resource(CLUSTER, &cluster.name))?;
    let sds = |secrets| {
        Arc::new(SdsCluster {
            cluster: cluster.clone(),
            secrets,
        })
    };
    Ok(match resolution {
        // Nothing referenced: compiled as received.
        Resolution::Resolved(resolved) if resolved == common => Prepared::Active {
            config: compile_cluster(cluster)?,
            sds: None,
        },
        Resolution::Resolved(resolved) => {
            context.common_tls_context = Some(resolved);
            Prepared::Active {
                config: compile_cluster(&with_context(cluster, &context))?,
                sds: (!names.is_empty()).then(|| sds(names)),
            }
        }
        Resolution::Missing {
            names: missing,
            partial,
        } => {
            context.common_tls_context = Some(partial);
            Prepared::Warming {
                config: compile_cluster(&with_context(cluster, &context))?,
                sds: sds(names),
                missing,
            }
        }
    })
}

/// Puts a prepared warming cluster aside, with the endpoints it has so far.
pub(super) fn warm(
    snapshot: &mut Snapshot,
    config: &ClusterConfig,
    sds: Arc<SdsCluster>,
    missing: BTreeSet<String>,
    dns: &DnsAnswers,
) {
    let warming = WarmingCluster {
        sds,
        missing,
        eds_service: match &config.discovery {
            Discovery::Eds { service_name } => Some(service_name.clone()),
            _ => None,
        },
        endpoints: endpoints_for(snapshot, config, dns),
    };
    tracing::debug!(cluster = %config.name, missing = ?warming.missing, "cluster warming on secrets");
    snapshot
        .warming_clusters
        .insert(config.name.clone(), Arc::new(warming));
}

/// Applies SDS: checks and stores `updates`, rebuilds the clusters and listener chains that
/// reference a changed secret and activates the warming ones they complete. A removed secret
/// that clusters or listeners still reference stays, as in Envoy: they keep the last version
/// they had.
pub fn apply_secrets(
    snapshot: &mut Snapshot,
    updates: &[Secret],
    removals: &[String],
) -> Result<(), ConfigError> {
    unique("Secret", updates.iter().map(|s| s.name.as_str()))?;
    let mut checked = Vec::with_capacity(updates.len());
    for secret in updates {
        let compiled =
            DynamicSecret::check(secret).map_err(|e| e.in_resource("Secret", &secret.name))?;
        checked.push((secret.name.clone(), Arc::new(compiled)));
    }
    let changed: BTreeSet<String> = checked
        .iter()
        .filter(|(name, new)| {
            snapshot
                .secrets
                .get(name)
                .is_none_or(|old| old.digest() != new.digest())
        })
        .map(|(name, _)| name.clone())
        .collect();
    let mut secrets = snapshot.secrets.clone();
    secrets.extend(checked);
    let referenced = sds_secret_names(snapshot);
    for name in removals {
        if referenced.contains(name) {
            tracing::info!(secret = %name, "removed secret still in use: it is kept");
        } else {
            secrets.remove(name);
        }
    }
    let statics = Arc::clone(&snapshot.static_secrets);
    let mut rebuilt = Vec::new();
    for (name, sds) in &snapshot.sds_clusters {
        let (Some(secret), Some(active)) = (
            touching(&sds.secrets, &changed),
            snapshot.clusters.get(name),
        ) else {
            continue;
        };
        match prepare(&sds.cluster, &statics, &secrets).map_err(|e| blame(&secrets, &secret, &e))? {
            Prepared::Active { config, .. } => rebuilt.push(ClusterConfig {
                tls: config.tls,
                ..ClusterConfig::clone(active)
            }),
            // Unreachable: a secret an active cluster references never goes.
            Prepared::Warming { .. } => {}
        }
    }
    let mut completed = Vec::new();
    let mut still = Vec::new();
    for warming in snapshot.warming_clusters.values() {
        let Some(secret) = touching(&warming.sds.secrets, &changed) else {
            continue;
        };
        match prepare(&warming.sds.cluster, &statics, &secrets)
            .map_err(|e| blame(&secrets, &secret, &e))?
        {
            Prepared::Active { config, sds } => {
                completed.push((config, sds, warming.endpoints.clone()))
            }
            Prepared::Warming {
                config, missing, ..
            } => still.push((config.name, missing)),
        }
    }
    let listeners = listener::follow_secrets(snapshot, &secrets, &changed)?;
    snapshot.secrets = secrets;
    for config in rebuilt {
        snapshot
            .clusters
            .insert(config.name.clone(), Arc::new(config));
    }
    for (name, missing) in still {
        if let Some(warming) = snapshot.warming_clusters.get_mut(&name) {
            *warming = Arc::new(WarmingCluster {
                missing,
                ..WarmingCluster::clone(warming)
            });
        }
    }
    for (config, sds, endpoints) in completed {
        let name = config.name.clone();
        tracing::debug!(cluster = %name, "cluster warmed: its secrets arrived");
        snapshot.warming_clusters.remove(&name);
        match sds {
            Some(sds) => snapshot.sds_clusters.insert(name.clone(), sds),
            None => snapshot.sds_clusters.remove(&name),
        };
        let endpoints = endpoints_for(snapshot, &config, &DnsAnswers::default()).or(endpoints);
        match endpoints {
            Some(set) => snapshot.endpoints.insert(name.clone(), set),
            None => snapshot.endpoints.remove(&name),
        };
        snapshot.clusters.insert(name, Arc::new(config));
    }
    listeners.commit(snapshot);
    Ok(())
}

/// The first of `names` that `changed` holds.
fn touching(names: &BTreeSet<String>, changed: &BTreeSet<String>) -> Option<String> {
    names.intersection(changed).next().cloned()
}

/// The endpoint sets `cla` gives the warming EDS clusters of its service.
pub(super) fn warming_endpoints(
    snapshot: &Snapshot,
    cla: &ClusterLoadAssignment,
) -> Result<Vec<(String, Arc<EndpointSet>)>, ConfigError> {
    let mut sets = Vec::new();
    for (name, warming) in &snapshot.warming_clusters {
        if warming.eds_service.as_deref() != Some(cla.cluster_name.as_str()) {
            continue;
        }
        let set = match &warming.endpoints {
            Some(previous) => previous.update(cla)?,
            None => EndpointSet::compile(cla)?,
        };
        sets.push((name.clone(), Arc::new(set)));
    }
    Ok(sets)
}

/// Gives warming clusters their endpoints (`None`: the assignment was removed).
pub(super) fn set_warming_endpoints(
    snapshot: &mut Snapshot,
    name: &str,
    endpoints: Option<Arc<EndpointSet>>,
) {
    if let Some(warming) = snapshot.warming_clusters.get_mut(name) {
        *warming = Arc::new(WarmingCluster {
            endpoints,
            ..WarmingCluster::clone(warming)
        });
    }
}

/// The warming EDS clusters whose endpoints come from the assignment `service`.
pub(super) fn warming_eds_clusters(snapshot: &Snapshot, service: &str) -> Vec<String> {
    snapshot
        .warming_clusters
        .iter()
        .filter(|(_, w)| w.eds_service.as_deref() == Some(service))
        .map(|(name, _)| name.clone())
        .collect()
}

/// Drops the secrets no cluster or listener references any more (their subscription ends
/// with them).
pub(super) fn forget_unreferenced(snapshot: &mut Snapshot) {
    let referenced = sds_secret_names(snapshot);
    snapshot.secrets.retain(|name, _| referenced.contains(name));
}

/// The secret names the snapshot's clusters and listeners, active and warming, fetch over SDS.
pub fn sds_secret_names(snapshot: &Snapshot) -> BTreeSet<String> {
    let clusters = (snapshot.sds_clusters.values())
        .chain(snapshot.warming_clusters.values().map(|w| &w.sds))
        .map(|sds| &sds.secrets);
    let listeners = (snapshot.sds_listeners.values())
        .chain(snapshot.warming_listeners.values().map(|w| &w.sds))
        .map(|sds| &sds.secrets);
    clusters.chain(listeners).flatten().cloned().collect()
}

/// A cluster or listener that no longer compiles with a changed secret refuses the secret: the
/// error names the secret and, in its reason, the resource and the field that refers to it.
fn blame(secrets: &DynamicSecrets, secret: &str, error: &ConfigError) -> ConfigError {
    let field = secrets.get(secret).map_or("name", |s| s.field());
    ConfigError {
        kind: "Secret",
        name: secret.to_owned(),
        path: FieldPath::root().field(field),
        reason: format!("cannot be used by {error}"),
    }
}

/// The cluster's `UpstreamTlsContext`, when its transport socket is one that decodes (a
/// malformed one is left for compilation to refuse).
fn upstream_context(cluster: &Cluster) -> Option<UpstreamTlsContext> {
    let socket = cluster.transport_socket.as_ref()?;
    let Some(ConfigType::TypedConfig(any)) = &socket.config_type else {
        return None;
    };
    if any.type_url != UpstreamTlsContext::type_url() {
        return None;
    }
    UpstreamTlsContext::decode(any.value.as_slice()).ok()
}

/// `cluster` with `context` as its TLS.
fn with_context(cluster: &Cluster, context: &UpstreamTlsContext) -> Cluster {
    let mut out = cluster.clone();
    if let Some(socket) = out.transport_socket.as_mut() {
        socket.config_type = Some(ConfigType::TypedConfig(Any {
            type_url: UpstreamTlsContext::type_url(),
            value: context.encode_to_vec(),
        }));
    }
    out
}

#[cfg(test)]
mod tests;
