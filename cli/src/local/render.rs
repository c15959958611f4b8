//! What the control plane's file store reads about the local mesh: the Kubernetes objects a
//! cluster would hold for it (Namespace, Service, Pod, EndpointSlice), one file per namespace,
//! and the `/etc/hosts` each pod resolves service names with.
//!
//! Pure functions of the mesh and its plan, so that a golden file pins them down.

use std::{collections::BTreeMap, fmt::Write as _, net::Ipv4Addr};

use serde::Serialize;

use super::{
    plan::{Plan, WorkloadPlan},
    spec::{LocalMesh, ServiceSpec, WorkloadSpec},
};

/// The cluster's DNS domain, as the control plane defaults it.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// A rendered file: its path under the config directory, and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedFile {
    pub path: String,
    pub text: String,
}

/// Why the objects could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("cannot render {what} as YAML: {reason}")]
pub struct RenderError {
    what: String,
    reason: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<S: Serialize> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    #[serde(flatten)]
    body: S,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct WithSpec<S: Serialize> {
    spec: S,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceBody {
    #[serde(rename = "clusterIP")]
    cluster_ip: String,
    selector: BTreeMap<String, String>,
    ports: Vec<ServicePort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServicePort {
    name: String,
    port: u16,
    target_port: u16,
    protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodBody {
    spec: PodSpec,
    status: PodStatus,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    service_account_name: String,
    containers: Vec<Container>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ports: Vec<ContainerPort>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerPort {
    container_port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodStatus {
    phase: &'static str,
    #[serde(rename = "podIP")]
    pod_ip: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SliceBody {
    address_type: &'static str,
    ports: Vec<SlicePort>,
    endpoints: Vec<SliceEndpoint>,
}

#[derive(Serialize)]
struct SlicePort {
    name: String,
    port: u16,
    protocol: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SliceEndpoint {
    addresses: Vec<String>,
    conditions: Conditions,
    target_ref: TargetRef,
}

#[derive(Serialize)]
struct Conditions {
    ready: bool,
}

#[derive(Serialize)]
struct TargetRef {
    kind: &'static str,
    namespace: String,
    name: String,
}

/// The Kubernetes objects of `mesh`, one file per namespace (`<namespace>.yaml`), in namespace
/// order; within a file: the Namespace, then Services, EndpointSlices and Pods in file order.
pub fn kubernetes_objects(mesh: &LocalMesh, plan: &Plan) -> Result<Vec<RenderedFile>, RenderError> {
    let mut files = Vec::new();
    for namespace in mesh.namespaces() {
        let mut text = String::new();
        let mut push = |what: String, object: &dyn erased::Yaml| -> Result<(), RenderError> {
            let yaml = object
                .yaml()
                .map_err(|reason| RenderError { what, reason })?;
            if !text.is_empty() {
                text.push_str("---\n");
            }
            text.push_str(&yaml);
            Ok(())
        };
        push(
            format!("Namespace {namespace}"),
            &Object {
                api_version: "v1",
                kind: "Namespace",
                metadata: metadata(&namespace, None, BTreeMap::new()),
                body: Empty {},
            },
        )?;
        for service in mesh.services.iter().filter(|s| s.namespace == namespace) {
            let what = format!("Service {namespace}/{}", service.name);
            push(what, &service_object(service, plan))?;
        }
        for service in mesh.services.iter().filter(|s| s.namespace == namespace) {
            let what = format!("EndpointSlice {namespace}/{}", service.name);
            push(what, &slice_object(service, mesh, plan))?;
        }
        for (workload, placed) in mesh.workloads.iter().zip(&plan.workloads) {
            if workload.namespace == namespace {
                let what = format!("Pod {namespace}/{}", workload.name);
                push(what, &pod_object(workload, placed))?;
            }
        }
        files.push(RenderedFile {
            path: format!("{namespace}.yaml"),
            text,
        });
    }
    Ok(files)
}

/// The `/etc/hosts` of `workload`: localhost, the pod's own name, and every service under the
/// names Kubernetes DNS would answer from this namespace (short names only for its own
/// namespace, as the DNS search path would complete them).
pub fn hosts_file(mesh: &LocalMesh, plan: &Plan, workload: &WorkloadPlan) -> String {
    let mut hosts = String::from("# Written by meshctl local: the services of the mesh.\n");
    hosts.push_str("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    let _ = writeln!(hosts, "{}\t{}", workload.ip, workload.name);
    for service in &mesh.services {
        let Some(vip) = plan.vip(&service.namespace, &service.name) else {
            continue;
        };
        let (name, ns) = (&service.name, &service.namespace);
        let mut names = Vec::new();
        if *ns == workload.namespace {
            names.push(name.clone());
        }
        names.push(format!("{name}.{ns}"));
        names.push(format!("{name}.{ns}.svc"));
        names.push(format!("{name}.{ns}.svc.{CLUSTER_DOMAIN}"));
        let _ = writeln!(hosts, "{vip}\t{}", names.join(" "));
    }
    hosts
}

fn metadata(name: &str, namespace: Option<&str>, labels: BTreeMap<String, String>) -> Metadata {
    Metadata {
        name: name.to_string(),
        namespace: namespace.map(str::to_string),
        labels,
    }
}

fn service_object(service: &ServiceSpec, plan: &Plan) -> Object<WithSpec<ServiceBody>> {
    let vip = plan
        .vip(&service.namespace, &service.name)
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    Object {
        api_version: "v1",
        kind: "Service",
        metadata: metadata(&service.name, Some(&service.namespace), BTreeMap::new()),
        body: WithSpec {
            spec: ServiceBody {
                cluster_ip: vip.to_string(),
                selector: service.selector(),
                ports: service
                    .ports
                    .iter()
                    .map(|p| ServicePort {
                        name: p.name.clone(),
                        port: p.port,
                        target_port: p.target_port.unwrap_or(p.port),
                        protocol: "TCP",
                    })
                    .collect(),
            },
        },
    }
}

fn slice_object(service: &ServiceSpec, mesh: &LocalMesh, plan: &Plan) -> Object<SliceBody> {
    let endpoints = mesh
        .workloads
        .iter()
        .zip(&plan.workloads)
        .filter(|(workload, _)| service.selects(workload))
        .map(|(workload, placed)| SliceEndpoint {
            addresses: vec![placed.ip.to_string()],
            conditions: Conditions { ready: true },
            target_ref: TargetRef {
                kind: "Pod",
                namespace: workload.namespace.clone(),
                name: workload.name.clone(),
            },
        })
        .collect();
    Object {
        api_version: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: metadata(
            &service.name,
            Some(&service.namespace),
            BTreeMap::from([(
                "kubernetes.io/service-name".to_string(),
                service.name.clone(),
            )]),
        ),
        body: SliceBody {
            address_type: "IPv4",
            ports: service
                .ports
                .iter()
                .map(|p| SlicePort {
                    name: p.name.clone(),
                    port: p.target_port.unwrap_or(p.port),
                    protocol: "TCP",
                })
                .collect(),
            endpoints,
        },
    }
}

fn pod_object(workload: &WorkloadSpec, placed: &WorkloadPlan) -> Object<PodBody> {
    Object {
        api_version: "v1",
        kind: "Pod",
        metadata: metadata(
            &workload.name,
            Some(&workload.namespace),
            workload.labels.clone(),
        ),
        body: PodBody {
            spec: PodSpec {
                service_account_name: workload.service_account.clone(),
                containers: vec![Container {
                    name: workload.name.clone(),
                    ports: workload
                        .ports
                        .iter()
                        .map(|&container_port| ContainerPort { container_port })
                        .collect(),
                }],
            },
            status: PodStatus {
                phase: "Running",
                pod_ip: placed.ip.to_string(),
            },
        },
    }
}

/// Serialization behind one object-safe trait, so that objects of different shapes go into one
/// file through one function.
mod erased {
    pub trait Yaml {
        fn yaml(&self) -> Result<String, String>;
    }

    impl<T: serde::Serialize> Yaml for T {
        fn yaml(&self) -> Result<String, String> {
            serde_saphyr::to_string(self).map_err(|e| e.to_string())
        }
    }
}
