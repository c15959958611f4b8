//! One immutable, versioned view of the mesh: every service with its endpoints, and the
//! accepted Istio config. Translation reads only this.

use std::{cmp::Ordering, collections::BTreeSet, sync::Arc};

use mesh_common::api::Kind;

use super::{
    Config, Credentials, DeclaredBy, IstioConfig, Objects, Service, host_matches, kube,
    resolve_host, service_entry,
};
use crate::mesh_config::MeshConfig;

/// The model at one version. Cloning is cheap: the parts are shared.
///
/// Each service is its own `Arc` so that [`Snapshot::next`] carries unchanged services over from
/// the previous snapshot and the diff and translation can tell by pointer that they did not
/// change.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    version: u64,
    mesh: Arc<MeshConfig>,
    /// In hostname, then namespace order.
    services: Arc<[Arc<Service>]>,
    config: Arc<IstioConfig>,
    credentials: Arc<Credentials>,
}

// === impl Snapshot ===

impl Snapshot {
    /// Builds the model from every input. Pure: equal inputs give equal snapshots, version
    /// included — the version is the objects' revision, which grows with each change.
    pub fn build(objects: &Objects, mesh: &MeshConfig) -> Snapshot {
        let config = IstioConfig::build(objects.resources().values(), mesh);
        let mut services = kube::services(objects, mesh);
        services.extend(service_entry::services(&config, objects, mesh));
        services.sort_by(order);
        Snapshot {
            version: objects.revision(),
            mesh: Arc::new(mesh.clone()),
            services: services.into_iter().map(Arc::new).collect(),
            config: Arc::new(config),
            credentials: objects.credentials(),
        }
    }

    /// The snapshot of `objects` now, built from this one: only the services the changes since
    /// touched are built again (a Kubernetes Service, its slices or their pods; every
    /// ServiceEntry's when an Istio resource or, with ServiceEntries around, a pod changed), and
    /// the config only when an Istio resource changed — then only the changed resources are
    /// checked again ([`IstioConfig::next`]). Whatever did not change is shared, the services,
    /// the config and each resource by pointer. Equal to [`Snapshot::build`] of the same
    /// objects.
    ///
    /// `objects` must be those this snapshot was built from, since changed; anything else (or a
    /// change outside the objects, [`Objects::touch`]) builds the whole snapshot.
    pub fn next(&self, objects: &mut Objects) -> Snapshot {
        let pending = objects.take_pending();
        if pending.everything || pending.since != self.version {
            return Snapshot::build(objects, &self.mesh);
        }
        let mesh = &*self.mesh;
        let config = match pending.resources {
            true => Arc::new(self.config.next(objects.resources().values(), mesh)),
            false => Arc::clone(&self.config),
        };
        let entries =
            pending.resources || (pending.pods && !config.of_kind(Kind::ServiceEntry).is_empty());
        let mut fresh: Vec<Service> = pending
            .services
            .iter()
            .filter_map(|key| kube::service(objects, mesh, key))
            .collect();
        if entries {
            fresh.extend(service_entry::services(&config, objects, mesh));
        }
        fresh.sort_by(order);
        let stale: BTreeSet<(&str, &str)> = pending
            .services
            .iter()
            .map(|key| (key.namespace.as_str(), key.name.as_str()))
            .collect();
        let is_stale = |s: &Arc<Service>| match &s.declared_by {
            DeclaredBy::Service(name) => stale.contains(&(s.namespace.as_str(), name.as_str())),
            DeclaredBy::ServiceEntry(_) => entries,
        };
        // An unchanged service keeps its `Arc`, so that the diff skips it by pointer.
        let fresh: Vec<Arc<Service>> = fresh
            .into_iter()
            .map(|service| match self.same_service(&service) {
                Some(old) => Arc::clone(old),
                None => Arc::new(service),
            })
            .collect();
        let mut removed = self.services.iter().filter(|s| is_stale(s));
        let unchanged = removed.clone().count() == fresh.len()
            && fresh
                .iter()
                .all(|s| removed.next().is_some_and(|r| Arc::ptr_eq(r, s)));
        let services = if unchanged {
            Arc::clone(&self.services)
        } else {
            let kept = self.services.iter().filter(|s| !is_stale(s));
            merge(kept, fresh.iter()).cloned().collect()
        };
        Snapshot {
            version: objects.revision(),
            mesh: Arc::clone(&self.mesh),
            services,
            config,
            credentials: objects.credentials(),
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// What the Secrets hold, for SDS.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    pub fn mesh(&self) -> &MeshConfig {
        &self.mesh
    }

    /// Every service, in hostname, then namespace order.
    pub fn services(&self) -> &[Arc<Service>] {
        &self.services
    }

    /// The accepted (and rejected) Istio resources.
    pub fn config(&self) -> &IstioConfig {
        &self.config
    }

    /// A service of this snapshot equal to `service`.
    fn same_service(&self, service: &Service) -> Option<&Arc<Service>> {
        let start = self
            .services
            .partition_point(|s| order(s, service) == Ordering::Less);
        let candidates = self.services[start..].iter();
        let candidates = candidates.take_while(|s| order(s, service) == Ordering::Equal);
        candidates.into_iter().find(|s| ***s == *service)
    }

    /// The service of this hostname declared in this namespace.
    pub fn service(&self, hostname: &str, namespace: &str) -> Option<&Arc<Service>> {
        self.services
            .iter()
            .find(|s| s.hostname == hostname && s.namespace == namespace)
    }

    /// The services a host of a resource stands for: one name, a wildcard (`*.example.com`)
    /// or `*`. The pattern must already be resolved ([`Snapshot::resolve_host`]).
    pub fn services_matching<'a>(
        &'a self,
        pattern: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Service>> + 'a {
        self.services
            .iter()
            .filter(move |s| host_matches(pattern, &s.hostname))
    }

    /// The services proxies in `namespace` see, by their `exportTo`.
    pub fn visible_services<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Service>> + 'a {
        self.services
            .iter()
            .filter(move |s| s.export_to.is_visible_from(namespace))
    }

    /// The accepted resources of one kind that apply to proxies in `namespace`.
    pub fn visible_config<'a>(
        &'a self,
        kind: Kind,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Arc<Config>> + 'a {
        self.config.visible(kind, namespace)
    }

    /// Completes a host written in a resource of `from_namespace`, as [`resolve_host`] does,
    /// and also `name.namespace` when that namespace has a Kubernetes Service of that name.
    pub fn resolve_host(&self, host: &str, from_namespace: &str) -> String {
        let domain = &self.mesh.cluster_domain;
        if let Some((name, namespace)) = host.split_once('.')
            && !namespace.contains('.')
            && !name.contains('*')
        {
            let fqdn = format!("{name}.{namespace}.svc.{domain}");
            let declared = DeclaredBy::Service(name.to_string());
            if self
                .service(&fqdn, namespace)
                .is_some_and(|s| s.declared_by == declared)
            {
                return fqdn;
            }
        }
        resolve_host(host, from_namespace, domain)
    }
}

/// The order of a snapshot's services: hostname, namespace, then what declares it.
fn order(a: &Service, b: &Service) -> Ordering {
    (&a.hostname, &a.namespace, &a.declared_by).cmp(&(&b.hostname, &b.namespace, &b.declared_by))
}

/// Two lists in [`order`] merged, the first's first where they tie.
fn merge<'a>(
    a: impl Iterator<Item = &'a Arc<Service>>,
    b: impl Iterator<Item = &'a Arc<Service>>,
) -> impl Iterator<Item = &'a Arc<Service>> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if order(y, x) == Ordering::Less => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
}

#[cfg(test)]
mod tests;
