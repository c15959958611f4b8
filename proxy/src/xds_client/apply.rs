//! Turning one discovery response into a snapshot update, for both protocol variants: decode,
//! compile and apply as a whole, or refuse as a whole with the text of the NACK.

use std::{collections::BTreeSet, sync::Arc, time::SystemTime};

use envoy_types::pb::{
    envoy::{
        config::{
            cluster::v3::{
                Cluster,
                cluster::{ClusterDiscoveryType, DiscoveryType},
            },
            endpoint::v3::ClusterLoadAssignment,
            listener::v3::Listener,
            route::v3::RouteConfiguration,
        },
        extensions::transport_sockets::tls::v3::Secret,
    },
    google::protobuf::Any,
};
use mesh_xds::resource::{Resource, ResourceType};

use super::state::{AcceptedResource, ErrorState, XdsState};
use crate::config::{
    ConfigStore, DnsAnswers, apply_clusters, apply_endpoints, apply_listeners, apply_routes,
    apply_secrets, eds_service_names, rds_route_names, sds_secret_names, sotw_removals,
};

/// One response's resources, before they are applied.
#[derive(Debug)]
pub(super) struct Update {
    /// The resource type every resource must be of.
    pub kind: ResourceType,
    /// The version to record for the response.
    pub version: String,
    /// `(name, version, resource)` of the resources sent.
    pub resources: Vec<(String, String, Any)>,
    /// Names removed (delta).
    pub removals: Vec<String>,
    /// State of the world for listeners and clusters: the resources are the full set, and
    /// anything accepted before and missing now is removed.
    pub full_set: bool,
}

/// Applies responses to the store and records them in the shared state.
#[derive(Debug)]
pub(super) struct Applier {
    pub store: Arc<ConfigStore>,
    pub state: Arc<XdsState>,
}

/// Why a response was refused, and the resource that made it so when one can be named.
struct Refusal {
    details: String,
    failed: Option<(String, Any)>,
}

/// The named subscriptions the current configuration needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Names {
    /// Assignments of the EDS clusters.
    pub endpoints: BTreeSet<String>,
    /// Route configurations of the listeners' RDS.
    pub routes: BTreeSet<String>,
    /// Secrets the TLS of clusters and listeners references over SDS.
    pub secrets: BTreeSet<String>,
}

// === impl Applier ===

impl Applier {
    /// Applies `update`; `Err` holds the NACK's error detail, and nothing changed.
    pub async fn apply(&self, update: Update) -> Result<(), String> {
        let kind = update.kind;
        let version = update.version.clone();
        match self.try_apply(update).await {
            Ok(()) => Ok(()),
            Err(refusal) => {
                let error = refusal.details;
                tracing::warn!(kind = kind.short_name(), %error, "xDS response refused");
                self.state.refused(
                    kind,
                    ErrorState {
                        version,
                        at: SystemTime::now(),
                        details: error.clone(),
                        failed: refusal.failed,
                    },
                );
                Err(error)
            }
        }
    }

    async fn try_apply(&self, update: Update) -> Result<(), Refusal> {
        let mut decoded = Vec::with_capacity(update.resources.len());
        for (i, (name, version, any)) in update.resources.iter().enumerate() {
            let refuse = |details: String| Refusal {
                details,
                failed: Some((name.clone(), any.clone())),
            };
            let resource =
                Resource::decode_any(any).map_err(|e| refuse(format!("resources[{i}]: {e}")))?;
            if resource.resource_type() != update.kind {
                return Err(refuse(format!(
                    "resources[{i}]: a {} in a {} response",
                    resource.resource_type().short_name(),
                    update.kind.short_name()
                )));
            }
            let name = if name.is_empty() {
                resource.name().to_owned()
            } else {
                name.clone()
            };
            decoded.push((name, version.clone(), resource));
        }
        let mut removals = update.removals.clone();
        if update.full_set {
            let previous = self.state.versions(update.kind);
            removals.extend(sotw_removals(
                previous.keys(),
                decoded.iter().map(|(name, _, _)| name.as_str()),
            ));
        }
        if update.kind == ResourceType::Secret {
            // A removed secret that clusters or listeners reference stays: they keep the last
            // one they had.
            let referenced = sds_secret_names(&self.store.load());
            removals.retain(|name| !referenced.contains(name));
        }
        let typed = Typed::split(decoded.iter().map(|(_, _, r)| r));
        let dns = DnsAnswers::resolve(&dns_clusters(&typed.clusters)).await;
        let type_url = update.kind.type_url();
        self.store
            .update(|snapshot| {
                match update.kind {
                    ResourceType::Listener => {
                        apply_listeners(snapshot, &typed.listeners, &removals)
                    }
                    ResourceType::RouteConfiguration => {
                        apply_routes(snapshot, &typed.routes, &removals)
                    }
                    ResourceType::Cluster => {
                        apply_clusters(snapshot, &typed.clusters, &removals, &dns)
                    }
                    ResourceType::ClusterLoadAssignment => {
                        apply_endpoints(snapshot, &typed.endpoints, &removals)
                    }
                    ResourceType::Secret => apply_secrets(snapshot, &typed.secrets, &removals),
                }?;
                snapshot.versions.insert(type_url, update.version.clone());
                Ok::<_, crate::config_error::ConfigError>(())
            })
            .map_err(|e| Refusal {
                details: e.to_string(),
                // The first resource of the name the error names: the one it is about.
                failed: decoded
                    .iter()
                    .zip(&update.resources)
                    .find(|((name, _, _), _)| *name == e.name)
                    .map(|((name, _, _), (_, _, any))| (name.clone(), any.clone())),
            })?;
        // `decoded` is in the order of `update.resources`: each keeps the bytes it came as.
        let accepted: Vec<(String, AcceptedResource)> = decoded
            .into_iter()
            .zip(update.resources)
            .map(|((name, version, _), (_, _, any))| {
                let version = if version.is_empty() {
                    update.version.clone()
                } else {
                    version
                };
                (
                    name,
                    AcceptedResource {
                        version,
                        resource: Arc::new(any),
                        updated: SystemTime::now(),
                    },
                )
            })
            .collect();
        self.state
            .accepted(update.kind, &update.version, &accepted, &removals);
        if matches!(update.kind, ResourceType::Cluster | ResourceType::Listener) {
            // Secrets nothing references any more went with the clusters or listeners.
            let kept = self.store.load().secrets.keys().cloned().collect();
            self.state.retain(ResourceType::Secret, &kept);
        }
        tracing::debug!(
            kind = update.kind.short_name(),
            version = %update.version,
            resources = accepted.len(),
            removed = removals.len(),
            "xDS response applied"
        );
        Ok(())
    }

    /// What the current snapshot subscribes to by name.
    pub fn names(&self) -> Names {
        let snapshot = self.store.load();
        Names {
            endpoints: eds_service_names(&snapshot),
            routes: rds_route_names(&snapshot),
            secrets: sds_secret_names(&snapshot),
        }
    }
}

impl Names {
    /// The names for a named type; empty for the wildcard types.
    pub fn of(&self, kind: ResourceType) -> BTreeSet<String> {
        match kind {
            ResourceType::ClusterLoadAssignment => self.endpoints.clone(),
            ResourceType::RouteConfiguration => self.routes.clone(),
            ResourceType::Secret => self.secrets.clone(),
            _ => BTreeSet::new(),
        }
    }
}

/// Decoded resources by message type.
#[derive(Default)]
struct Typed {
    listeners: Vec<Listener>,
    routes: Vec<RouteConfiguration>,
    clusters: Vec<Cluster>,
    endpoints: Vec<ClusterLoadAssignment>,
    secrets: Vec<Secret>,
}

impl Typed {
    fn split<'a>(resources: impl Iterator<Item = &'a Resource>) -> Self {
        let mut typed = Self::default();
        for resource in resources {
            match resource {
                Resource::Listener(l) => typed.listeners.push(Listener::clone(l)),
                Resource::RouteConfiguration(r) => {
                    typed.routes.push(RouteConfiguration::clone(r));
                }
                Resource::Cluster(c) => typed.clusters.push(Cluster::clone(c)),
                Resource::ClusterLoadAssignment(c) => {
                    typed.endpoints.push(ClusterLoadAssignment::clone(c));
                }
                Resource::Secret(s) => typed.secrets.push(Secret::clone(s)),
            }
        }
        typed
    }
}

/// The DNS clusters among `clusters`, without their transport sockets: DNS needs only their
/// hosts, and a cluster warming on secrets would not compile with its TLS.
fn dns_clusters(clusters: &[Cluster]) -> Vec<Cluster> {
    let dns = [
        DiscoveryType::StrictDns as i32,
        DiscoveryType::LogicalDns as i32,
    ];
    clusters
        .iter()
        .filter(|c| {
            matches!(c.cluster_discovery_type, Some(ClusterDiscoveryType::Type(t)) if dns.contains(&t))
        })
        .map(|c| Cluster {
            transport_socket: None,
            ..c.clone()
        })
        .collect()
}
