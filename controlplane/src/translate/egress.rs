//! The `Sidecar` resource's `egress` hosts: which services, and which VirtualServices, a
//! sidecar is configured for. On top of `exportTo`, which decides what a namespace may see, a
//! Sidecar narrows what one proxy is sent — the main lever on the size of a large mesh's
//! configuration. Its `outboundTrafficPolicy` ([`Fallback`]) decides where the rest goes.

mod fallback;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use mesh_common::api::{IstioEgressListener, Kind, Resource, SidecarSpec};

pub use self::fallback::Fallback;
use super::{Proxy, gateway::selects};
use crate::model::{Protocol, Resolution, Service, Snapshot, host_matches};

/// The egress hosts that apply to one proxy, and where its traffic to other hosts goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressScope {
    /// `None` when no Sidecar applies: the proxy gets every service it can see.
    sidecar: Option<Scoped>,
    fallback: Fallback,
}

/// The Sidecar resource that applies to a proxy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AppliedSidecar<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub spec: &'a SidecarSpec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Scoped {
    /// The Sidecar's namespace, which `./host` names.
    namespace: String,
    listeners: Vec<IstioEgressListener>,
}

// === impl EgressScope ===

impl EgressScope {
    /// The scope of the Sidecar that applies to `proxy` ([`applied_sidecar`]), and its
    /// outbound traffic policy, else the mesh's.
    pub fn for_proxy(snapshot: &Snapshot, proxy: &Proxy) -> EgressScope {
        let sidecar = applied_sidecar(snapshot, proxy);
        EgressScope {
            fallback: Fallback::resolve(
                snapshot.mesh(),
                sidecar.and_then(|s| s.spec.outbound_traffic_policy.as_ref()),
            ),
            sidecar: sidecar.map(|applied| Scoped {
                namespace: applied.namespace.to_string(),
                listeners: applied.spec.egress.clone(),
            }),
        }
    }

    /// Everything the proxy can see: no Sidecar applies, and the mesh's default `ALLOW_ANY`.
    pub fn unrestricted() -> EgressScope {
        EgressScope {
            sidecar: None,
            fallback: Fallback::Passthrough,
        }
    }

    /// Where traffic to hosts no service of the proxy's configuration matches goes.
    pub fn fallback(&self) -> &Fallback {
        &self.fallback
    }

    /// Sends the fallback to the blackhole when it names an egress proxy none of `clusters`
    /// is, and says why: failing closed keeps traffic meant for the egress proxy from leaving
    /// by another way.
    pub(crate) fn confirm_fallback(&mut self, clusters: &[Cluster]) -> Option<String> {
        let Fallback::EgressProxy(cluster) = &self.fallback else {
            return None;
        };
        if clusters.iter().any(|c| c.name == *cluster) {
            return None;
        }
        let warning = format!(
            "outboundTrafficPolicy.egressProxy: no cluster {cluster} is configured for this \
             proxy (the host must be a service it sees on that port, and the subset one of its \
             DestinationRule's); traffic to unknown hosts is refused instead"
        );
        self.fallback = Fallback::Blackhole;
        Some(warning)
    }

    /// Whether the proxy is configured for `port` of the service `hostname` of `namespace`.
    pub fn admits_service(&self, namespace: &str, hostname: &str, port: u16) -> bool {
        self.admits(namespace, port, |pattern| host_matches(pattern, hostname))
    }

    /// Whether a sidecar of `namespace` with this scope is sent the cluster of `port` of
    /// `service` (`outbound|<port>||<hostname>`), as its outbound translation builds them.
    pub(crate) fn has_outbound_cluster(
        &self,
        namespace: &str,
        service: &Service,
        port: u16,
    ) -> bool {
        service.resolution == Resolution::ClientSideLb
            && !service.hostname.contains('*')
            && service.export_to.is_visible_from(namespace)
            && service
                .ports
                .iter()
                .any(|p| p.number == port && p.protocol != Protocol::Udp)
            && self.admits_service(&service.namespace, &service.hostname, port)
    }

    /// Whether the proxy uses, on `port`, a VirtualService of `namespace` for `hosts` (resolved):
    /// one of its hosts and an egress host must overlap, wildcards either way.
    pub fn admits_virtual_service(&self, namespace: &str, hosts: &[String], port: u16) -> bool {
        self.admits(namespace, port, |pattern| {
            hosts
                .iter()
                .any(|h| host_matches(pattern, h) || host_matches(h, pattern))
        })
    }

    /// Whether the proxy may be configured, on some port, for the service `hostname` of
    /// `namespace` or a VirtualService of `namespace` for it (either covering the other): true
    /// when any egress listener's hosts admit it, whatever its port, so that it never says no
    /// where [`admits_service`](Self::admits_service) or
    /// [`admits_virtual_service`](Self::admits_virtual_service) says yes on a port.
    pub(crate) fn may_admit(&self, namespace: &str, hostname: &str) -> bool {
        let Some(scoped) = self.sidecar.as_ref().filter(|s| !s.listeners.is_empty()) else {
            return true;
        };
        let host =
            |pattern: &str| host_matches(pattern, hostname) || host_matches(hostname, pattern);
        scoped
            .listeners
            .iter()
            .any(|listener| scoped.listener_admits(listener, namespace, &host))
    }

    /// The egress listener of `port` decides, else the one without a port (Istio's catch-all);
    /// a port neither covers gets nothing. A Sidecar without `egress` (one that configures only
    /// its ingress or outbound policy) narrows nothing, as Istio defaults it to `*/*`.
    fn admits(&self, namespace: &str, port: u16, host: impl Fn(&str) -> bool) -> bool {
        let Some(scoped) = self.sidecar.as_ref().filter(|s| !s.listeners.is_empty()) else {
            return true;
        };
        let listener = scoped
            .listeners
            .iter()
            .find(|l| l.port.as_ref().is_some_and(|p| p.number == u32::from(port)))
            .or_else(|| scoped.listeners.iter().find(|l| l.port.is_none()));
        listener.is_some_and(|listener| scoped.listener_admits(listener, namespace, &host))
    }
}

/// The Sidecar that applies to `proxy`, as Istio picks it: the oldest in the proxy's namespace
/// whose `workloadSelector` selects the proxy, else the oldest there without a selector, else
/// the oldest without a selector in the root namespace.
pub(crate) fn applied_sidecar<'a>(
    snapshot: &'a Snapshot,
    proxy: &Proxy,
) -> Option<AppliedSidecar<'a>> {
    let sidecars: Vec<AppliedSidecar<'a>> = snapshot
        .config()
        .of_kind(Kind::Sidecar)
        .iter()
        .filter_map(|config| match &config.resource {
            Resource::Sidecar(sidecar) => Some(AppliedSidecar {
                namespace: config.resource.namespace(),
                name: config.resource.name(),
                spec: &sidecar.spec,
            }),
            _ => None,
        })
        .collect();
    let selected = sidecars.iter().find(|s| {
        s.namespace == proxy.namespace
            && s.spec
                .workload_selector
                .as_ref()
                .is_some_and(|w| selects(&w.labels, &proxy.labels))
    });
    let default_in = |namespace: &str| {
        sidecars
            .iter()
            .find(|s| s.namespace == namespace && s.spec.workload_selector.is_none())
    };
    selected
        .or_else(|| default_in(&proxy.namespace))
        .or_else(|| default_in(&snapshot.mesh().root_namespace))
        .copied()
}

// === impl Scoped ===

impl Scoped {
    /// Whether one of `listener`'s hosts admits `namespace` and a host `host` accepts.
    fn listener_admits(
        &self,
        listener: &IstioEgressListener,
        namespace: &str,
        host: &impl Fn(&str) -> bool,
    ) -> bool {
        listener.hosts.iter().any(|entry| {
            let Some((ns, pattern)) = entry.split_once('/') else {
                return false;
            };
            let ns_matches = match ns {
                "*" => true,
                "~" => false,
                "." => namespace == self.namespace,
                named => namespace == named,
            };
            ns_matches && host(pattern)
        })
    }
}

#[cfg(test)]
mod tests;
