//! One immutable, versioned view of the mesh: every service with its endpoints, and the
//! accepted Istio config. Translation reads only this.

use std::sync::Arc;

use mesh_common::api::Kind;

use super::{
    Config, DeclaredBy, IstioConfig, Objects, Service, host_matches, kube, resolve_host,
    service_entry,
};
use crate::mesh_config::MeshConfig;

/// The model at one version. Cloning is cheap: the parts are shared.
///
/// Each service is its own `Arc` so that an incremental build — a later optimisation; every
/// build is a full one today — can carry unchanged services over from the previous snapshot
/// and translation can tell by pointer that they did not change.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    version: u64,
    mesh: Arc<MeshConfig>,
    /// In hostname, then namespace order.
    services: Arc<[Arc<Service>]>,
    config: Arc<IstioConfig>,
}

// === impl Snapshot ===

impl Snapshot {
    /// Builds the model from every input. Pure: equal inputs give equal snapshots, version
    /// included — the version is the objects' revision, which grows with each change.
    pub fn build(objects: &Objects, mesh: &MeshConfig) -> Snapshot {
        let config = IstioConfig::build(objects.resources().values(), mesh);
        let mut services = kube::services(objects, mesh);
        services.extend(service_entry::services(&config, objects, mesh));
        services.sort_by(|a, b| {
            (&a.hostname, &a.namespace, &a.declared_by).cmp(&(
                &b.hostname,
                &b.namespace,
                &b.declared_by,
            ))
        });
        Snapshot {
            version: objects.revision(),
            mesh: Arc::new(mesh.clone()),
            services: services.into_iter().map(Arc::new).collect(),
            config: Arc::new(config),
        }
    }

    pub fn version(&self) -> u64 {
        self.version
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
