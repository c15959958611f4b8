//! A cluster's endpoints compiled from a `ClusterLoadAssignment`, grouped by priority.
//!
//! Refused: `named_endpoints`, `policy.drop_overloads`, `policy.overprovisioning_factor` (levels
//! fail over strictly: a level serves everything while it has an available endpoint),
//! `policy.weighted_priority_health`, `policy.endpoint_stale_after`, a locality's `lb_config`
//! (the deprecated inline list and LEDS), endpoints given by name, and addresses other than
//! an IP socket address with a numeric TCP port (`resolver_name`, `named_port`,
//! `network_namespace_filepath`, UDP, pipes, internal addresses, `additional_addresses`).
//!
//! Ignored: locality `load_balancing_weight` (used only when the cluster enables locality-
//! weighted balancing, which it cannot yet), `locality`, `proximity`, `metadata`, and an
//! endpoint's `health_check_config` (there is no active health checking) and
//! `observability_name`.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
};

use arc_swap::ArcSwapOption;

use envoy_types::pb::envoy::config::{
    core::v3::HealthStatus,
    endpoint::v3::{ClusterLoadAssignment, LbEndpoint, lb_endpoint::HostIdentifier},
};
use mesh_common::path::FieldPath;
use rand::Rng;

use super::{
    Algorithm, NoHealthyUpstream,
    endpoint::{Endpoint, Health},
    level::Level,
    outlier::OutlierDetector,
    panic,
};
use crate::{
    config_error::{ConfigError, FieldError, reject_if},
    socket_address::socket_address,
};

const KIND: &str = "ClusterLoadAssignment";

/// The endpoints of one cluster: immutable, replaced whole on each EDS update.
#[derive(Debug)]
pub struct EndpointSet {
    cluster: String,
    /// Sets are numbered in creation order, so that an outlier detector can tell the newest.
    id: u64,
    /// Every endpoint, available or not, in EDS order.
    endpoints: Vec<Arc<Endpoint>>,
    /// Levels with at least one available endpoint, lowest priority number first.
    levels: Vec<Level>,
    /// Every endpoint, available or not, by priority: what a level in panic picks from.
    all: Vec<Level>,
    /// The levels without the endpoints an outlier detector ejected, rebuilt when its
    /// ejections change. An assignment that several clusters share keeps one view, rebuilt
    /// whenever picks alternate between their detectors while both have ejections.
    outlier_view: ArcSwapOption<OutlierView>,
}

#[derive(Debug)]
struct OutlierView {
    /// The detector and its ejections generation the levels were built for.
    key: (u64, u64),
    levels: Vec<Level>,
}

// === impl EndpointSet ===

impl EndpointSet {
    /// Compiles a `ClusterLoadAssignment`.
    pub fn compile(cla: &ClusterLoadAssignment) -> Result<Self, ConfigError> {
        Self::compile_with(cla, &HashMap::new())
    }

    /// Compiles the next `ClusterLoadAssignment` of this cluster: endpoints that stay (same
    /// address) keep their in-flight counts.
    pub fn update(&self, cla: &ClusterLoadAssignment) -> Result<Self, ConfigError> {
        let counters = self
            .endpoints
            .iter()
            .map(|e| (e.address, e.counter().clone()))
            .collect();
        Self::compile_with(cla, &counters)
    }

    fn compile_with(
        cla: &ClusterLoadAssignment,
        previous: &HashMap<SocketAddr, Arc<AtomicUsize>>,
    ) -> Result<Self, ConfigError> {
        compile_endpoints(cla, previous)
            .map(|endpoints| Self::from_endpoints(cla.cluster_name.clone(), endpoints))
            .map_err(|e| e.in_resource(KIND, &cla.cluster_name))
    }

    fn from_endpoints(cluster: String, endpoints: Vec<Arc<Endpoint>>) -> Self {
        static IDS: AtomicU64 = AtomicU64::new(1);
        let available = levels(&endpoints, |e| !e.is_available());
        let all = levels(&endpoints, |_| false);
        Self {
            cluster,
            id: IDS.fetch_add(1, Ordering::Relaxed),
            endpoints,
            levels: available,
            all,
            outlier_view: ArcSwapOption::empty(),
        }
    }

    /// The cluster's name.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Every endpoint, available or not, in EDS order.
    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// The priority that picks currently come from, if any endpoint is available.
    pub fn active_priority(&self) -> Option<u32> {
        self.levels.first().map(|l| l.priority)
    }

    /// Picks an endpoint from the lowest priority level that has an available one.
    pub fn pick<R: Rng + ?Sized>(
        &self,
        algorithm: Algorithm,
        rng: &mut R,
    ) -> Result<&Arc<Endpoint>, NoHealthyUpstream> {
        self.pick_from(&self.levels, algorithm, None, 0, rng)
    }

    /// Picks as [`pick`](Self::pick) does, leaving out the endpoints `outlier` ejected: they
    /// are skipped exactly as unavailable ones are, levels failing over alike.
    pub fn pick_with<R: Rng + ?Sized>(
        &self,
        algorithm: Algorithm,
        outlier: Option<&OutlierDetector>,
        rng: &mut R,
    ) -> Result<Arc<Endpoint>, NoHealthyUpstream> {
        self.pick_hashed(algorithm, outlier, None, 0, rng)
    }

    /// Picks as [`pick_with`](Self::pick_with) does, with the request's `hash` for the hashing
    /// algorithms (the others ignore it), and with Envoy's panic mode at `panic_threshold`
    /// percent (0 turns it off; see `panic.rs`): a level with too few available endpoints picks
    /// from all of them, unavailable and ejected ones included. The same hash picks the same
    /// endpoint for as long as the level's endpoints (and ejections) stay the same.
    pub fn pick_hashed<R: Rng + ?Sized>(
        &self,
        algorithm: Algorithm,
        outlier: Option<&OutlierDetector>,
        hash: Option<u64>,
        panic_threshold: u32,
        rng: &mut R,
    ) -> Result<Arc<Endpoint>, NoHealthyUpstream> {
        let pick = |levels: &[Level], rng: &mut R| {
            self.pick_from(levels, algorithm, hash, panic_threshold, rng)
                .cloned()
        };
        let Some(outlier) = outlier else {
            return pick(&self.levels, rng);
        };
        outlier.observe(self.id, self.endpoints.iter().map(|e| e.address));
        let Some(key) = outlier.exclusions_key() else {
            return pick(&self.levels, rng);
        };
        let cached = self.outlier_view.load_full().filter(|view| view.key == key);
        let view = match cached {
            Some(view) => view,
            None => {
                let built = outlier.exclusions(|ejected| {
                    levels(&self.endpoints, |e: &Endpoint| {
                        !e.is_available() || ejected(e.address)
                    })
                });
                let Some((key, levels)) = built else {
                    return pick(&self.levels, rng);
                };
                let view = Arc::new(OutlierView { key, levels });
                self.outlier_view.store(Some(Arc::clone(&view)));
                view
            }
        };
        pick(&view.levels, rng)
    }

    fn pick_from<'l, R: Rng + ?Sized>(
        &'l self,
        levels: &'l [Level],
        algorithm: Algorithm,
        hash: Option<u64>,
        panic_threshold: u32,
        rng: &mut R,
    ) -> Result<&'l Arc<Endpoint>, NoHealthyUpstream> {
        if let Some(all) = panic::level_in_panic(&self.all, levels, panic_threshold) {
            return Ok(algorithm.pick(all, hash, rng));
        }
        match levels.iter().find(|l| !l.is_empty()) {
            Some(level) => Ok(algorithm.pick(level, hash, rng)),
            None => Err(NoHealthyUpstream {
                cluster: self.cluster.clone(),
            }),
        }
    }
}

/// The levels of the endpoints that are not `excluded`, lowest priority number first.
fn levels(endpoints: &[Arc<Endpoint>], excluded: impl Fn(&Endpoint) -> bool) -> Vec<Level> {
    let mut by_priority: BTreeMap<u32, Vec<Arc<Endpoint>>> = BTreeMap::new();
    for endpoint in endpoints {
        if excluded(endpoint) {
            continue;
        }
        by_priority
            .entry(endpoint.priority)
            .or_default()
            .push(endpoint.clone());
    }
    by_priority
        .into_iter()
        .map(|(priority, endpoints)| Level::new(priority, endpoints))
        .collect()
}

#[allow(deprecated)]
fn compile_endpoints(
    cla: &ClusterLoadAssignment,
    previous: &HashMap<SocketAddr, Arc<AtomicUsize>>,
) -> Result<Vec<Arc<Endpoint>>, FieldError> {
    let root = FieldPath::root();
    reject_if(!cla.named_endpoints.is_empty(), &root, "named_endpoints")?;
    if let Some(policy) = &cla.policy {
        let path = root.field("policy");
        reject_if(!policy.drop_overloads.is_empty(), &path, "drop_overloads")?;
        reject_if(
            policy.overprovisioning_factor.is_some(),
            &path,
            "overprovisioning_factor",
        )?;
        reject_if(
            policy.weighted_priority_health,
            &path,
            "weighted_priority_health",
        )?;
        reject_if(
            policy.endpoint_stale_after.is_some(),
            &path,
            "endpoint_stale_after",
        )?;
    }
    // Duplicates of one address (EndpointSlices overlap while they change) share one counter.
    let mut counters: HashMap<SocketAddr, Arc<AtomicUsize>> = HashMap::new();
    let mut endpoints = Vec::new();
    for (i, locality) in cla.endpoints.iter().enumerate() {
        let path = root.field("endpoints").index(i);
        reject_if(locality.lb_config.is_some(), &path, "lb_config")?;
        for (j, lb) in locality.lb_endpoints.iter().enumerate() {
            let path = path.field("lb_endpoints").index(j);
            let (address, hostname) = endpoint_address(lb, &path)?;
            let counter = counters
                .entry(address)
                .or_insert_with(|| previous.get(&address).cloned().unwrap_or_default())
                .clone();
            let weight = match &lb.load_balancing_weight {
                None => 1,
                Some(w) if w.value >= 1 => w.value,
                Some(_) => {
                    return Err(FieldError::new(
                        path.field("load_balancing_weight"),
                        "must be at least 1",
                    ));
                }
            };
            let health = match HealthStatus::try_from(lb.health_status) {
                Ok(HealthStatus::Healthy) => Health::Healthy,
                Ok(HealthStatus::Unknown) => Health::Unknown,
                Ok(HealthStatus::Unhealthy) => Health::Unhealthy,
                Ok(HealthStatus::Draining) => Health::Draining,
                Ok(HealthStatus::Timeout) => Health::Timeout,
                Ok(HealthStatus::Degraded) => Health::Degraded,
                Err(_) => {
                    return Err(FieldError::new(
                        path.field("health_status"),
                        format!("unknown value {}", lb.health_status),
                    ));
                }
            };
            endpoints.push(Arc::new(Endpoint::new(
                address,
                hostname,
                weight,
                health,
                locality.priority,
                counter,
            )));
        }
    }
    Ok(endpoints)
}

fn endpoint_address(
    lb: &LbEndpoint,
    path: &FieldPath,
) -> Result<(SocketAddr, Option<String>), FieldError> {
    let endpoint = match &lb.host_identifier {
        Some(HostIdentifier::Endpoint(endpoint)) => endpoint,
        Some(HostIdentifier::EndpointName(_)) => {
            return Err(FieldError::unsupported(path.field("endpoint_name")));
        }
        None => return Err(FieldError::new(path.field("endpoint"), "is required")),
    };
    let path = path.field("endpoint");
    reject_if(
        !endpoint.additional_addresses.is_empty(),
        &path,
        "additional_addresses",
    )?;
    let address = socket_address(endpoint.address.as_ref(), &path.field("address"))?;
    let hostname = Some(endpoint.hostname.clone()).filter(|h| !h.is_empty());
    Ok((address, hostname))
}
