//! The `Sidecar` resource's `egress` hosts: which services, and which VirtualServices, a
//! sidecar is configured for. On top of `exportTo`, which decides what a namespace may see, a
//! Sidecar narrows what one proxy is sent — the main lever on the size of a large mesh's
//! configuration.

use mesh_common::api::{IstioEgressListener, Kind, Resource, SidecarSpec};

use super::{Proxy, gateway::selects};
use crate::model::{Snapshot, host_matches};

/// The egress hosts that apply to one proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressScope {
    /// `None` when no Sidecar applies: the proxy gets every service it can see.
    sidecar: Option<Scoped>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Scoped {
    /// The Sidecar's namespace, which `./host` names.
    namespace: String,
    listeners: Vec<IstioEgressListener>,
}

// === impl EgressScope ===

impl EgressScope {
    /// The scope of the Sidecar that applies to `proxy`, as Istio picks it: the oldest in the
    /// proxy's namespace whose `workloadSelector` selects the proxy, else the oldest there
    /// without a selector, else the oldest without a selector in the root namespace.
    pub fn for_proxy(snapshot: &Snapshot, proxy: &Proxy) -> EgressScope {
        let sidecars: Vec<(&str, &SidecarSpec)> = snapshot
            .config()
            .of_kind(Kind::Sidecar)
            .iter()
            .filter_map(|config| match &config.resource {
                Resource::Sidecar(sidecar) => Some((config.resource.namespace(), &sidecar.spec)),
                _ => None,
            })
            .collect();
        let selected = sidecars.iter().find(|(ns, spec)| {
            *ns == proxy.namespace
                && spec
                    .workload_selector
                    .as_ref()
                    .is_some_and(|s| selects(&s.labels, &proxy.labels))
        });
        let default_in = |namespace: &str| {
            sidecars
                .iter()
                .find(|(ns, spec)| *ns == namespace && spec.workload_selector.is_none())
        };
        let sidecar = selected
            .or_else(|| default_in(&proxy.namespace))
            .or_else(|| default_in(&snapshot.mesh().root_namespace));
        EgressScope {
            sidecar: sidecar.map(|(namespace, spec)| Scoped {
                namespace: namespace.to_string(),
                listeners: spec.egress.clone(),
            }),
        }
    }

    /// Everything the proxy can see: no Sidecar applies.
    pub fn unrestricted() -> EgressScope {
        EgressScope { sidecar: None }
    }

    /// Whether the proxy is configured for `port` of the service `hostname` of `namespace`.
    pub fn admits_service(&self, namespace: &str, hostname: &str, port: u16) -> bool {
        self.admits(namespace, port, |pattern| host_matches(pattern, hostname))
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
