//! `outboundTrafficPolicy`: where a sidecar sends traffic to hosts that no service of its
//! configuration matches. The Sidecar that applies to the proxy decides; without one, or when
//! it does not set a mode, the mesh config does, as in Istio.

use mesh_common::api::{self, OutboundTrafficPolicy};

use super::super::{BLACKHOLE_CLUSTER, PASSTHROUGH_CLUSTER, cluster_name};
use crate::mesh_config::{MeshConfig, OutboundTrafficMode};

/// Where traffic to unknown hosts goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// `ALLOW_ANY`: to the address the client dialled.
    Passthrough,
    /// `ALLOW_ANY` with an `egressProxy`: to this cluster (`outbound|<port>|<subset>|<host>`)
    /// instead.
    EgressProxy(String),
    /// `REGISTRY_ONLY`: refused.
    Blackhole,
}

// === impl Fallback ===

impl Fallback {
    /// The Sidecar's policy over the mesh's: its `mode` when set, and with `ALLOW_ANY` its
    /// `egressProxy` (validation holds `egressProxy` to `ALLOW_ANY`, and to a host and port).
    pub fn resolve(mesh: &MeshConfig, sidecar: Option<&OutboundTrafficPolicy>) -> Fallback {
        let mode = sidecar.and_then(|policy| policy.mode).map_or(
            mesh.outbound_traffic_policy.mode,
            |mode| match mode {
                api::OutboundTrafficMode::AllowAny => OutboundTrafficMode::AllowAny,
                api::OutboundTrafficMode::RegistryOnly => OutboundTrafficMode::RegistryOnly,
            },
        );
        match mode {
            OutboundTrafficMode::RegistryOnly => Fallback::Blackhole,
            OutboundTrafficMode::AllowAny => {
                let proxy = sidecar.and_then(|policy| policy.egress_proxy.as_ref());
                let port = proxy
                    .and_then(|p| p.port.as_ref())
                    .and_then(|p| u16::try_from(p.number).ok());
                match (proxy, port) {
                    (Some(proxy), Some(port)) => {
                        Fallback::EgressProxy(cluster_name(port, &proxy.subset, &proxy.host))
                    }
                    _ => Fallback::Passthrough,
                }
            }
        }
    }

    /// The cluster the traffic goes to.
    pub fn cluster(&self) -> &str {
        match self {
            Fallback::Passthrough => PASSTHROUGH_CLUSTER,
            Fallback::EgressProxy(cluster) => cluster,
            Fallback::Blackhole => BLACKHOLE_CLUSTER,
        }
    }
}
