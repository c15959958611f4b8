//! Services and their endpoints, as translation sees them: the same shape whether a Kubernetes
//! Service and its EndpointSlices or a ServiceEntry and its WorkloadEntries declared them.

use std::{collections::BTreeMap, fmt};

use mesh_common::identity::SpiffeId;
use serde::Serialize;

use super::{ExportTo, Protocol};

/// A service of the registry: one hostname in one namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// The fully qualified hostname (`reviews.default.svc.cluster.local`), or a ServiceEntry's
    /// host, which may be a wildcard (`*.example.com`).
    pub hostname: String,
    pub namespace: String,
    /// The resource that declares the service, for status and debug output.
    pub declared_by: DeclaredBy,
    /// Virtual IPs, or for a ServiceEntry IPs and CIDR blocks, as written. Empty for a headless
    /// Service and for a ServiceEntry without addresses.
    pub addresses: Vec<String>,
    pub ports: Vec<ServicePort>,
    pub location: Location,
    pub resolution: Resolution,
    pub export_to: ExportTo,
    /// Identities the service's workloads may present besides their own (ServiceEntry
    /// `subjectAltNames`).
    pub subject_alt_names: Vec<String>,
    /// In address order.
    pub endpoints: Vec<Endpoint>,
}

/// What declares a service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "name")]
pub enum DeclaredBy {
    /// A Kubernetes Service of this name.
    Service(String),
    /// A ServiceEntry of this name.
    ServiceEntry(String),
}

/// One port of a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Empty when a Kubernetes Service's only port is unnamed.
    pub name: String,
    pub number: u16,
    pub protocol: Protocol,
}

/// Whether a service runs in the mesh (its workloads have sidecars and identities).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Location {
    MeshInternal,
    MeshExternal,
}

/// How a proxy finds the workloads behind the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Resolution {
    /// The proxy balances over the endpoints the control plane sends.
    ClientSideLb,
    /// The proxy resolves each endpoint's address by DNS and uses every address returned.
    Dns,
    /// The proxy resolves by DNS and uses the first address returned.
    DnsRoundRobin,
    /// The proxy forwards to the destination address the client asked for (headless Services,
    /// ServiceEntries with resolution NONE).
    Passthrough,
}

/// A workload address behind a service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// An IP address, or for DNS resolution a hostname.
    pub address: String,
    /// Service port number → the port the workload listens on for it. A service port missing
    /// here is not served by this endpoint.
    pub ports: BTreeMap<u16, u16>,
    pub labels: BTreeMap<String, String>,
    /// `None` when the workload's service account is unknown (a pod not seen yet, an external
    /// endpoint).
    pub identity: Option<SpiffeId>,
    pub locality: Locality,
    /// Relative load-balancing weight, at least 1.
    pub weight: u32,
    pub health: Health,
    /// The pod or WorkloadEntry behind the address, when known.
    pub workload: Option<WorkloadRef>,
    pub node_name: Option<String>,
}

/// An endpoint's health, from its EndpointSlice conditions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Health {
    /// Ready: receives new requests.
    Healthy,
    /// Terminating but still serving: it finishes what it has and takes no new requests.
    Draining,
    /// Not ready, or terminating and no longer serving.
    Unhealthy,
}

/// `region/zone/subzone`, each part possibly empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Locality {
    pub region: String,
    pub zone: String,
    pub subzone: String,
}

/// The workload that holds an endpoint's address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    /// The workload as Istio's telemetry names it (`destination_workload`): a pod's Deployment
    /// (its ReplicaSet's name without the `pod-template-hash`), else its controller, else the
    /// pod itself; a WorkloadEntry's own name.
    pub workload_name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum WorkloadKind {
    Pod,
    WorkloadEntry,
}

// === impl Service ===

impl Service {
    /// The port with this number.
    pub fn port(&self, number: u16) -> Option<&ServicePort> {
        self.ports.iter().find(|p| p.number == number)
    }
}

// === impl DeclaredBy ===

impl DeclaredBy {
    pub fn name(&self) -> &str {
        match self {
            DeclaredBy::Service(name) | DeclaredBy::ServiceEntry(name) => name,
        }
    }
}

// === impl Locality ===

impl Locality {
    /// Reads `region/zone/subzone` (trailing parts may be left out).
    pub fn parse(text: &str) -> Locality {
        let mut parts = text.splitn(3, '/').map(str::to_string);
        Locality {
            region: parts.next().unwrap_or_default(),
            zone: parts.next().unwrap_or_default(),
            subzone: parts.next().unwrap_or_default(),
        }
    }
}

impl fmt::Display for Locality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.region, self.zone, self.subzone)
    }
}
