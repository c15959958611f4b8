//! The mesh the control plane serves, as the files its `--config-dir` mode reads: per
//! service one file holding the Service, the Pods behind it and their EndpointSlice, plus one
//! file of Namespaces. A change adds one endpoint (and its Pod) to a service and rewrites that
//! service's file through a rename, as an editor saves it.

use std::{
    fmt::Write as _,
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};

/// The port every service serves, named `http`.
pub const PORT: u16 = 9080;

/// The most pod addresses there are: 198.18.0.1 to 198.18.255.254.
const MAX_PODS: u32 = 65_534;

/// How big a mesh to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeshSize {
    /// Services, one port each.
    pub services: usize,
    /// Endpoints over all services, spread evenly (the first services take the remainder).
    pub endpoints: usize,
    /// Namespaces the services are dealt into, round robin.
    pub namespaces: usize,
}

/// One service of the mesh and the pods behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshService {
    /// `svc-00042`.
    pub name: String,
    /// `bench-3`.
    pub namespace: String,
    /// Its virtual IP, from 198.19.0.0/16.
    pub cluster_ip: Ipv4Addr,
    /// The pods behind it, in the order of its EndpointSlice.
    pub pods: Vec<MeshPod>,
}

/// A pod: one endpoint of its service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshPod {
    /// `svc-00042-7`.
    pub name: String,
    /// From 198.18.0.0/16.
    pub ip: Ipv4Addr,
    /// `v1` or `v2`, alternating.
    pub version: &'static str,
}

/// A generated mesh on disk.
#[derive(Debug)]
pub struct Mesh {
    /// The directory the control plane reads.
    pub dir: PathBuf,
    /// Every service, in name order.
    pub services: Vec<MeshService>,
    /// Pod addresses handed out so far.
    pods: u32,
}

/// One endpoint added by [`Mesh::add_endpoint`]: what a proxy sees once the change reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddedEndpoint {
    /// The EDS cluster name of the service, `outbound|9080||<host>`.
    pub cluster: String,
    /// The new endpoint's address.
    pub address: Ipv4Addr,
}

// === impl MeshService ===

impl MeshService {
    /// `svc-00042.bench-3.svc.cluster.local`.
    pub fn hostname(&self) -> String {
        format!("{}.{}.svc.cluster.local", self.name, self.namespace)
    }

    /// The name of the cluster (and of its load assignment) a sidecar gets for it.
    pub fn cluster(&self) -> String {
        format!("outbound|{PORT}||{}", self.hostname())
    }

    /// The file that holds it, relative to the mesh directory.
    fn file(&self) -> String {
        format!("{}/{}.yaml", self.namespace, self.name)
    }

    /// The Service, its Pods and their EndpointSlice, as YAML documents.
    pub fn yaml(&self) -> String {
        let (name, namespace) = (&self.name, &self.namespace);
        let mut out = format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\n  \
             labels: {{app: {name}}}\nspec:\n  clusterIP: {ip}\n  clusterIPs: [{ip}]\n  \
             ports: [{{name: http, port: {PORT}, targetPort: {PORT}, protocol: TCP}}]\n  \
             selector: {{app: {name}}}\n",
            ip = self.cluster_ip
        );
        for pod in &self.pods {
            let _ = write!(
                out,
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod_name}\n  \
                 namespace: {namespace}\n  labels: {{app: {name}, version: {version}}}\n\
                 spec:\n  serviceAccountName: {name}\n  nodeName: node-1\n  \
                 containers: [{{name: app, image: app}}]\nstatus:\n  podIP: {ip}\n",
                pod_name = pod.name,
                version = pod.version,
                ip = pod.ip
            );
        }
        let _ = write!(
            out,
            "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  \
             name: {name}-slice\n  namespace: {namespace}\n  \
             labels: {{kubernetes.io/service-name: {name}}}\naddressType: IPv4\n\
             ports: [{{name: http, port: {PORT}, protocol: TCP}}]\nendpoints:\n"
        );
        for pod in &self.pods {
            let _ = write!(
                out,
                "- addresses: [{ip}]\n  conditions: {{ready: true, serving: true, terminating: false}}\n  \
                 nodeName: node-1\n  targetRef: {{kind: Pod, namespace: {namespace}, name: {pod}}}\n",
                ip = pod.ip,
                pod = pod.name
            );
        }
        out
    }
}

// === impl Mesh ===

impl Mesh {
    /// Writes a mesh of `size` into `dir`, which must not hold other config.
    pub fn generate(dir: &Path, size: MeshSize) -> anyhow::Result<Mesh> {
        if size.services == 0 || size.namespaces == 0 || size.endpoints < size.services {
            bail!("a mesh needs a service, a namespace and an endpoint per service: {size:?}");
        }
        if size.services > 65_534 || size.endpoints as u64 >= u64::from(MAX_PODS) {
            bail!("{size:?} does not fit the 198.18.0.0/15 test range");
        }
        let mut mesh = Mesh {
            dir: dir.to_path_buf(),
            services: Vec::with_capacity(size.services),
            pods: 0,
        };
        let (per_service, remainder) = (
            size.endpoints / size.services,
            size.endpoints % size.services,
        );
        for index in 0..size.services {
            let name = format!("svc-{index:05}");
            let mut service = MeshService {
                namespace: format!("bench-{}", index % size.namespaces),
                cluster_ip: address(19, index as u32 + 1),
                pods: Vec::new(),
                name,
            };
            let endpoints = per_service + usize::from(index < remainder);
            for _ in 0..endpoints {
                let pod = mesh.next_pod(&service.name, service.pods.len())?;
                service.pods.push(pod);
            }
            mesh.services.push(service);
        }
        let namespaces: String = (0..size.namespaces.min(size.services))
            .map(|n| {
                format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: bench-{n}\n")
            })
            .collect();
        write_atomically(&dir.join("namespaces.yaml"), &namespaces)?;
        for service in &mesh.services {
            mesh.save(service)?;
        }
        Ok(mesh)
    }

    /// How many endpoints the mesh has now.
    pub fn endpoints(&self) -> usize {
        self.services.iter().map(|s| s.pods.len()).sum()
    }

    /// Adds one pod to service `index` (modulo the service count), in memory: returns the
    /// service's index for [`Mesh::save_service`], and what the proxies will see.
    pub fn add_endpoint(&mut self, index: usize) -> anyhow::Result<(usize, AddedEndpoint)> {
        let index = index % self.services.len();
        let service = &self.services[index];
        let (name, ordinal) = (service.name.clone(), service.pods.len());
        let pod = self.next_pod(&name, ordinal)?;
        let service = &mut self.services[index];
        let added = AddedEndpoint {
            cluster: service.cluster(),
            address: pod.ip,
        };
        service.pods.push(pod);
        Ok((index, added))
    }

    /// Rewrites the file of service `index` through a rename, so the control plane never
    /// reads half of it.
    pub fn save_service(&self, index: usize) -> anyhow::Result<()> {
        let service = self
            .services
            .get(index)
            .with_context(|| format!("the mesh has no service {index}"))?;
        self.save(service)
    }

    /// The next pod of the service `name` that has `ordinal` pods so far.
    fn next_pod(&mut self, name: &str, ordinal: usize) -> anyhow::Result<MeshPod> {
        if self.pods >= MAX_PODS {
            bail!("all {MAX_PODS} pod addresses of 198.18.0.0/16 are used");
        }
        self.pods += 1;
        Ok(MeshPod {
            name: format!("{name}-{ordinal}"),
            ip: address(18, self.pods),
            version: if ordinal.is_multiple_of(2) {
                "v1"
            } else {
                "v2"
            },
        })
    }

    fn save(&self, service: &MeshService) -> anyhow::Result<()> {
        write_atomically(&self.dir.join(service.file()), &service.yaml())
    }
}

/// `198.<second>.x.y`, the `n`th address of that /16.
fn address(second: u8, n: u32) -> Ipv4Addr {
    Ipv4Addr::new(198, second, (n >> 8) as u8, (n & 0xff) as u8)
}

/// Writes `text` to a hidden temporary file beside `path` (the control plane skips hidden
/// files) and renames it over `path`.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let dir = path.parent().context("a mesh file has a directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .context("a mesh file has a name")?
        .to_string_lossy();
    let temporary = dir.join(format!(".{name}.tmp"));
    std::fs::write(&temporary, text).with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("renaming to {}", path.display()))
}
