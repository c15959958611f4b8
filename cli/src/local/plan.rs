//! Names and addresses of one local mesh instance, decided before anything is created: a pure
//! function of the mesh file and the instance id, so that it can be tested and shown.
//!
//! Every name carries the instance id, so that two meshes on one machine (or a mesh and a test)
//! never touch each other's namespaces, links or rules. Linux limits link names to 15 bytes.
//!
//! In [`Mode::Explicit`] there are no namespaces: each workload gets an address of its own on
//! loopback instead, and the names of namespaces and links stay empty.

use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::spec::LocalMesh;

/// The longest network interface name Linux accepts (`IFNAMSIZ` - 1).
pub const MAX_LINK_NAME: usize = 15;
/// The longest instance id: `meshbr` + id must be a link name.
pub const MAX_ID: usize = 8;
/// Where pods live unless told otherwise.
pub const DEFAULT_POD_NETWORK: Network = Network {
    base: Ipv4Addr::new(198, 18, 0, 0),
    prefix: 16,
};
/// Where service VIPs come from. They are never on a link: the sidecar's capture redirects
/// them before they leave the pod.
pub const SERVICE_NETWORK: Network = Network {
    base: Ipv4Addr::new(198, 19, 0, 0),
    prefix: 16,
};

/// Where the workloads of explicit mode live: loopback addresses, which need no root (all of
/// 127.0.0.0/8 is local on Linux). `.1` is left out: Debian names the host `127.0.1.1`.
pub const LOOPBACK_NETWORK: Network = Network {
    base: Ipv4Addr::new(127, 0, 1, 0),
    prefix: 24,
};
/// The sidecars' admin port.
const ADMIN_PORT: u16 = mesh_common::well_known::proxy_ports::ADMIN;

/// How the workloads are isolated and their traffic reaches their sidecars.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// A network namespace per workload with `mesh-proxy init`'s capture rules, like a pod.
    /// Needs root.
    #[default]
    Namespaces,
    /// Workloads on loopback addresses of their own, their outbound HTTP sent to their sidecar
    /// as an explicit proxy (`http_proxy`); nothing is captured.
    Explicit,
}

/// An IPv4 network: a base address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub base: Ipv4Addr,
    pub prefix: u8,
}

/// Why a plan cannot be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("instance id {0:?} must be 1 to {MAX_ID} lowercase letters or digits")]
    BadId(String),
    #[error("{network} has room for {room} addresses, and {wanted} are needed")]
    Full {
        network: String,
        room: u32,
        wanted: usize,
    },
    #[error("{0} workloads are too many: link names would pass Linux's {MAX_LINK_NAME} bytes")]
    TooManyWorkloads(usize),
}

/// The names and addresses of one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub id: String,
    /// Older state files, from before explicit mode, are namespace mode.
    #[serde(default)]
    pub mode: Mode,
    /// Empty in explicit mode.
    pub bridge: String,
    pub pod_network: Network,
    /// The root namespace's address on the bridge: the pods' gateway and the control plane.
    pub host_ip: Ipv4Addr,
    pub workloads: Vec<WorkloadPlan>,
    pub services: Vec<ServicePlan>,
}

/// Where one workload runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadPlan {
    pub name: String,
    pub namespace: String,
    pub ip: Ipv4Addr,
    /// The network namespace; empty in explicit mode, as are the veth names.
    pub netns: String,
    /// The end of the veth pair left on the bridge.
    pub host_veth: String,
    /// The end moved into the pod, where it is renamed `eth0`.
    pub pod_veth: String,
}

/// The virtual address of one service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePlan {
    pub name: String,
    pub namespace: String,
    pub vip: Ipv4Addr,
}

// === impl Network ===

impl Network {
    /// The `n`th address after the base, if it is inside the network and not its broadcast.
    pub fn nth(self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - u32::from(self.prefix.min(32)));
        // The last address is the broadcast address.
        if u64::from(n) + 1 >= size {
            return None;
        }
        u32::from(self.base).checked_add(n).map(Ipv4Addr::from)
    }

    /// How many addresses can be handed out when the network address, `skip` more and the
    /// broadcast address are not.
    fn room(self, skip: u32) -> u32 {
        let size = 1u64 << (32 - u32::from(self.prefix.min(32)));
        u32::try_from(size.saturating_sub(u64::from(skip) + 2)).unwrap_or(u32::MAX)
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

// === impl Plan ===

impl Plan {
    /// Names and addresses for `mesh` under instance `id`: workloads get the pod network's
    /// addresses from `.2` in file order (`.1` is the host), services the VIPs from `.1`.
    pub fn new(mesh: &LocalMesh, id: &str, pod_network: Network) -> Result<Plan, PlanError> {
        let valid_id = !id.is_empty()
            && id.len() <= MAX_ID
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !valid_id {
            return Err(PlanError::BadId(id.to_string()));
        }
        let full = |network: Network, skip: u32, wanted: usize| PlanError::Full {
            network: network.to_string(),
            room: network.room(skip),
            wanted,
        };
        let host_ip = pod_network
            .nth(1)
            .ok_or_else(|| full(pod_network, 0, mesh.workloads.len() + 1))?;
        let workloads = mesh
            .workloads
            .iter()
            .enumerate()
            .map(|(i, workload)| {
                let n = u32::try_from(i).ok().and_then(|i| i.checked_add(2));
                let ip = n
                    .and_then(|n| pod_network.nth(n))
                    .ok_or_else(|| full(pod_network, 1, mesh.workloads.len()))?;
                Ok(WorkloadPlan {
                    name: workload.name.clone(),
                    namespace: workload.namespace.clone(),
                    ip,
                    netns: netns_name(id, &workload.name),
                    // Hex keeps the index of any pod in a /16 within the link name limit.
                    host_veth: format!("mh{id}-{i:x}"),
                    pod_veth: format!("mp{id}-{i:x}"),
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        if workloads.iter().any(|w| w.host_veth.len() > MAX_LINK_NAME) {
            return Err(PlanError::TooManyWorkloads(workloads.len()));
        }
        let services = mesh
            .services
            .iter()
            .enumerate()
            .map(|(i, service)| {
                let n = u32::try_from(i).ok().and_then(|i| i.checked_add(1));
                let vip = n
                    .and_then(|n| SERVICE_NETWORK.nth(n))
                    .ok_or_else(|| full(SERVICE_NETWORK, 0, mesh.services.len()))?;
                Ok(ServicePlan {
                    name: service.name.clone(),
                    namespace: service.namespace.clone(),
                    vip,
                })
            })
            .collect::<Result<Vec<_>, PlanError>>()?;
        Ok(Plan {
            id: id.to_string(),
            mode: Mode::Namespaces,
            bridge: format!("meshbr{id}"),
            pod_network,
            host_ip,
            workloads,
            services,
        })
    }

    /// Names and addresses for `mesh` in explicit mode: the control plane on `127.0.0.1`,
    /// workloads on `network`'s addresses from `.2` in file order, no namespaces or links.
    /// Services keep their VIPs: the control plane's model needs them, though nothing is sent
    /// to them.
    pub fn explicit(mesh: &LocalMesh, id: &str, network: Network) -> Result<Plan, PlanError> {
        let mut plan = Plan::new(mesh, id, network)?;
        plan.mode = Mode::Explicit;
        plan.bridge = String::new();
        plan.host_ip = Ipv4Addr::LOCALHOST;
        for workload in &mut plan.workloads {
            workload.netns.clear();
            workload.host_veth.clear();
            workload.pod_veth.clear();
        }
        Ok(plan)
    }

    /// Where the sidecar of `workload` serves its admin API: `127.0.0.1:15000` inside the
    /// workload's namespace, or on the workload's own address in explicit mode.
    pub fn sidecar_admin(&self, workload: &WorkloadPlan) -> SocketAddr {
        match self.mode {
            Mode::Namespaces => SocketAddr::from((Ipv4Addr::LOCALHOST, ADMIN_PORT)),
            Mode::Explicit => SocketAddr::from((workload.ip, ADMIN_PORT)),
        }
    }

    /// The workload named `name`.
    pub fn workload(&self, name: &str) -> Option<&WorkloadPlan> {
        self.workloads.iter().find(|w| w.name == name)
    }

    /// The VIP of service `name` in `namespace`.
    pub fn vip(&self, namespace: &str, name: &str) -> Option<Ipv4Addr> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
            .map(|s| s.vip)
    }
}

/// The network namespace of a workload: `mesh-<id>-<workload>`. Namespace names are file names,
/// so the 15-byte link limit does not apply.
pub fn netns_name(id: &str, workload: &str) -> String {
    format!("mesh-{id}-{workload}")
}

/// A fresh instance id: six hex digits from the standard library's per-process random hash
/// keys, which is all the randomness two instances on one machine need.
pub fn random_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    format!("{:06x}", hasher.finish() & 0xff_ffff)
}

#[cfg(test)]
mod tests;
