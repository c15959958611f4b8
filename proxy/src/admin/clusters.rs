//! `/clusters`: every cluster of the snapshot with its circuit-breaker thresholds and, per
//! endpoint, the connection counts, the weight and the health flags (outlier ejection, the EDS
//! health status), in Envoy's text format (`cluster::host:port::stat::value`) or, with
//! `?format=json`, in the shape of Envoy's `envoy.admin.v3.Clusters`.
//!
//! Only what mesh-proxy measures exactly is shown: connection stats (`cx_active`,
//! `cx_connect_fail`, `cx_total`), no request stats, no locality and no success rates beyond
//! the `-1` Envoy prints when success-rate detection is off, which it always is here.

use std::{collections::BTreeSet, fmt::Write, sync::Arc};

use serde_json::{Map, Value, json};

use crate::{
    balance::{Endpoint, Health},
    config::{ClusterConfig, Discovery, Snapshot},
    upstream::{ConnectionStats, UpstreamConnections},
};

/// What `/clusters` reports on.
pub(super) struct ClustersView<'a> {
    pub snapshot: &'a Snapshot,
    pub connections: &'a UpstreamConnections,
    /// Clusters that came over CDS (Envoy's `added_via_api`).
    pub dynamic: BTreeSet<String>,
}

/// One endpoint, as both formats need it.
struct Host<'a> {
    endpoint: &'a Endpoint,
    stats: ConnectionStats,
    ejected: bool,
}

// === impl ClustersView ===

impl ClustersView<'_> {
    /// Envoy's text format, clusters in name order, endpoints in EDS order.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for cluster in self.clusters() {
            let c = cluster.name.as_str();
            let _ = writeln!(out, "{c}::observability_name::{c}");
            if cluster.outlier.is_some() {
                for stat in [
                    "success_rate_average",
                    "success_rate_ejection_threshold",
                    "local_origin_success_rate_average",
                    "local_origin_success_rate_ejection_threshold",
                ] {
                    let _ = writeln!(out, "{c}::outlier::{stat}::-1");
                }
            }
            let t = cluster.breaker.thresholds();
            for (name, value) in [
                ("max_connections", t.max_connections),
                ("max_pending_requests", t.max_pending_requests),
                ("max_requests", t.max_requests),
                ("max_retries", t.max_retries),
            ] {
                let _ = writeln!(out, "{c}::default_priority::{name}::{value}");
            }
            let _ = writeln!(out, "{c}::added_via_api::{}", self.dynamic.contains(c));
            if let Some(service) = eds_service_name(cluster) {
                let _ = writeln!(out, "{c}::eds_service_name::{service}");
            }
            for host in self.hosts(cluster) {
                let a = host.endpoint.address;
                let _ = writeln!(out, "{c}::{a}::cx_active::{}", host.stats.active);
                let _ = writeln!(
                    out,
                    "{c}::{a}::cx_connect_fail::{}",
                    host.stats.connect_failures
                );
                let _ = writeln!(out, "{c}::{a}::cx_total::{}", host.stats.opened);
                let hostname = host.endpoint.hostname.as_deref().unwrap_or_default();
                let _ = writeln!(out, "{c}::{a}::hostname::{hostname}");
                let _ = writeln!(out, "{c}::{a}::health_flags::{}", host.flags());
                let _ = writeln!(out, "{c}::{a}::weight::{}", host.endpoint.weight);
                let _ = writeln!(out, "{c}::{a}::priority::{}", host.endpoint.priority);
            }
        }
        out
    }

    /// Envoy's `Clusters` JSON, with proto3's rules: zero values and false flags left out,
    /// 64-bit counts as strings.
    pub fn json(&self) -> Value {
        let statuses: Vec<Value> = self
            .clusters()
            .into_iter()
            .map(|cluster| {
                let t = cluster.breaker.thresholds();
                let mut status = Map::new();
                status.insert("name".to_owned(), json!(cluster.name));
                if self.dynamic.contains(&cluster.name) {
                    status.insert("added_via_api".to_owned(), json!(true));
                }
                status.insert(
                    "circuit_breakers".to_owned(),
                    json!({ "thresholds": [{
                        "max_connections": t.max_connections,
                        "max_pending_requests": t.max_pending_requests,
                        "max_requests": t.max_requests,
                        "max_retries": t.max_retries,
                    }] }),
                );
                status.insert("observability_name".to_owned(), json!(cluster.name));
                if let Some(service) = eds_service_name(cluster) {
                    status.insert("eds_service_name".to_owned(), json!(service));
                }
                let hosts: Vec<Value> = self.hosts(cluster).iter().map(Host::json).collect();
                if !hosts.is_empty() {
                    status.insert("host_statuses".to_owned(), Value::Array(hosts));
                }
                Value::Object(status)
            })
            .collect();
        json!({ "cluster_statuses": statuses })
    }

    fn clusters(&self) -> Vec<&Arc<ClusterConfig>> {
        let mut clusters: Vec<&Arc<ClusterConfig>> = self.snapshot.clusters.values().collect();
        clusters.sort_by(|a, b| a.name.cmp(&b.name));
        clusters
    }

    fn hosts<'s>(&'s self, cluster: &ClusterConfig) -> Vec<Host<'s>> {
        let Some(set) = self.snapshot.endpoints.get(&cluster.name) else {
            return Vec::new();
        };
        let counts = self.connections.find(&cluster.name);
        set.endpoints()
            .iter()
            .map(|endpoint| Host {
                endpoint,
                stats: counts
                    .as_ref()
                    .map(|c| c.host(endpoint.address))
                    .unwrap_or_default(),
                ejected: cluster
                    .outlier
                    .as_ref()
                    .is_some_and(|o| o.is_ejected(endpoint.address)),
            })
            .collect()
    }
}

fn eds_service_name(cluster: &ClusterConfig) -> Option<&str> {
    match &cluster.discovery {
        Discovery::Eds { service_name } => Some(service_name),
        _ => None,
    }
}

// === impl Host ===

impl Host<'_> {
    /// Envoy's `health_flags`: `healthy`, or each flag that is set, `/`-prefixed, in Envoy's
    /// order. EDS sets at most one of them: Envoy marks `UNHEALTHY` and `TIMEOUT` alike as
    /// failed, and gives `DEGRADED` and `DRAINING` flags of their own.
    fn flags(&self) -> String {
        let mut flags = String::new();
        if self.ejected {
            flags.push_str("/failed_outlier_check");
        }
        flags.push_str(match self.endpoint.health {
            Health::Unhealthy | Health::Timeout => "/failed_eds_health",
            Health::Degraded => "/degraded_eds_health",
            Health::Draining => "/eds_status_draining",
            Health::Healthy | Health::Unknown => "",
        });
        if flags.is_empty() {
            flags.push_str("healthy");
        }
        flags
    }

    /// Envoy's `eds_health_status`: like its flags, `UNKNOWN` shows as `HEALTHY` and `TIMEOUT`
    /// as `UNHEALTHY`.
    fn eds_health_status(&self) -> &'static str {
        match self.endpoint.health {
            Health::Healthy | Health::Unknown => "HEALTHY",
            Health::Unhealthy | Health::Timeout => "UNHEALTHY",
            Health::Degraded => "DEGRADED",
            Health::Draining => "DRAINING",
        }
    }

    fn json(&self) -> Value {
        let mut stats = Vec::new();
        for (name, value, gauge) in [
            ("cx_connect_fail", self.stats.connect_failures, false),
            ("cx_total", self.stats.opened, false),
            ("cx_active", self.stats.active, true),
        ] {
            let mut stat = Map::new();
            if gauge {
                stat.insert("type".to_owned(), json!("GAUGE"));
            }
            stat.insert("name".to_owned(), json!(name));
            if value != 0 {
                stat.insert("value".to_owned(), json!(value.to_string()));
            }
            stats.push(Value::Object(stat));
        }
        let mut health = Map::new();
        if self.ejected {
            health.insert("failed_outlier_check".to_owned(), json!(true));
        }
        health.insert(
            "eds_health_status".to_owned(),
            json!(self.eds_health_status()),
        );
        let mut host = Map::new();
        host.insert(
            "address".to_owned(),
            json!({ "socket_address": {
                "address": self.endpoint.address.ip().to_string(),
                "port_value": self.endpoint.address.port(),
            } }),
        );
        host.insert("stats".to_owned(), Value::Array(stats));
        host.insert("health_status".to_owned(), Value::Object(health));
        host.insert("weight".to_owned(), json!(self.endpoint.weight));
        if let Some(hostname) = &self.endpoint.hostname {
            host.insert("hostname".to_owned(), json!(hostname));
        }
        if self.endpoint.priority != 0 {
            host.insert("priority".to_owned(), json!(self.endpoint.priority));
        }
        Value::Object(host)
    }
}
