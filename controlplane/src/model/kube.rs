//! Services from Kubernetes: a Service gives the hostname, addresses and ports; its
//! EndpointSlices give the addresses behind it; the Pods they point at give labels, service
//! account and node.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        core::v1::{Pod, Service as KubeService},
        discovery::v1::{Endpoint as SliceEndpoint, EndpointSlice},
    },
    apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use mesh_common::identity::SpiffeId;

use super::{
    DeclaredBy, Endpoint, ExportTo, Health, Locality, Location, ObjectKey, Objects, Protocol,
    Resolution, Service, ServicePort, WorkloadKind, WorkloadRef, export_to::EXPORT_TO_ANNOTATION,
};
use crate::mesh_config::MeshConfig;

/// The service account Kubernetes gives a pod that names none.
pub(super) const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// One service per Kubernetes Service, in namespace/name order.
pub(super) fn services(objects: &Objects, mesh: &MeshConfig) -> Vec<Service> {
    let keys = objects.all::<KubeService>().keys();
    keys.filter_map(|key| service(objects, mesh, key)).collect()
}

/// The service of the Kubernetes Service of `key`, if there is one: with the endpoints of its
/// slices, found through the objects' index.
pub(super) fn service(objects: &Objects, mesh: &MeshConfig, key: &ObjectKey) -> Option<Service> {
    let service = objects.get::<KubeService>(&key.namespace, &key.name)?;
    let slices: Vec<&EndpointSlice> = objects
        .index()
        .slices_of(key)
        .filter_map(|name| objects.get::<EndpointSlice>(&key.namespace, name))
        .collect();
    Some(service_of(
        objects,
        mesh,
        &key.namespace,
        &key.name,
        service,
        &slices,
    ))
}

fn service_of(
    objects: &Objects,
    mesh: &MeshConfig,
    namespace: &str,
    name: &str,
    service: &KubeService,
    slices: &[&EndpointSlice],
) -> Service {
    let spec = service.spec.clone().unwrap_or_default();
    let ports: Vec<ServicePort> = spec
        .ports
        .iter()
        .flatten()
        .filter_map(|port| {
            Some(ServicePort {
                name: port.name.clone().unwrap_or_default(),
                number: u16::try_from(port.port).ok()?,
                protocol: Protocol::of_kubernetes_port(
                    port.port,
                    port.name.as_deref(),
                    port.protocol.as_deref(),
                    port.app_protocol.as_deref(),
                ),
            })
        })
        .collect();
    let mut addresses: Vec<String> = match &spec.cluster_ips {
        Some(ips) if !ips.is_empty() => ips.clone(),
        _ => spec.cluster_ip.iter().cloned().collect(),
    };
    let headless = addresses.iter().any(|ip| ip == "None");
    addresses.retain(|ip| !ip.is_empty() && ip != "None");
    let export_to = ExportTo::from_annotation(
        annotation(&service.metadata, EXPORT_TO_ANNOTATION),
        &mesh.default_service_export_to,
        namespace,
    );
    let mut service = Service {
        hostname: format!("{name}.{namespace}.svc.{}", mesh.cluster_domain),
        namespace: namespace.to_string(),
        declared_by: DeclaredBy::Service(name.to_string()),
        addresses,
        ports,
        location: Location::MeshInternal,
        resolution: if headless {
            Resolution::Passthrough
        } else {
            Resolution::ClientSideLb
        },
        export_to,
        subject_alt_names: Vec::new(),
        endpoints: Vec::new(),
    };
    if spec.type_.as_deref() == Some("ExternalName") {
        // An alias for a name outside the cluster: the proxy resolves it itself, and the
        // workloads behind it have no sidecars.
        service.location = Location::MeshExternal;
        service.resolution = Resolution::Dns;
        service.addresses.clear();
        if let Some(external) = spec.external_name.filter(|n| !n.is_empty()) {
            service.endpoints = vec![external_endpoint(&service, external)];
        }
        return service;
    }
    service.endpoints = endpoints(objects, mesh, namespace, &service, slices);
    service
}

fn external_endpoint(service: &Service, address: String) -> Endpoint {
    Endpoint {
        address,
        ports: service.ports.iter().map(|p| (p.number, p.number)).collect(),
        labels: BTreeMap::new(),
        identity: None,
        locality: Locality::default(),
        weight: 1,
        health: Health::Healthy,
        workload: None,
        node_name: None,
    }
}

/// The endpoints of all slices, one per address. During a slice rebalance an address may be
/// listed by two slices: the first in name order wins, so the result does not depend on the
/// order the watch delivered them.
fn endpoints(
    objects: &Objects,
    mesh: &MeshConfig,
    namespace: &str,
    service: &Service,
    slices: &[&EndpointSlice],
) -> Vec<Endpoint> {
    let mut by_address: BTreeMap<String, Endpoint> = BTreeMap::new();
    for slice in slices {
        // Slice ports are matched to service ports by name; both are unnamed ("") for a
        // single-port Service.
        let ports: BTreeMap<u16, u16> = slice
            .ports
            .iter()
            .flatten()
            .filter_map(|slice_port| {
                let name = slice_port.name.as_deref().unwrap_or_default();
                let service_port = service.ports.iter().find(|p| p.name == name)?;
                let target = u16::try_from(slice_port.port?).ok()?;
                Some((service_port.number, target))
            })
            .collect();
        if ports.is_empty() {
            continue;
        }
        for endpoint in slice.endpoints.iter().flatten() {
            for address in &endpoint.addresses {
                if by_address.contains_key(address) {
                    continue;
                }
                let built = endpoint_of(objects, mesh, namespace, endpoint, address, &ports);
                by_address.insert(address.clone(), built);
            }
        }
    }
    by_address.into_values().collect()
}

fn endpoint_of(
    objects: &Objects,
    mesh: &MeshConfig,
    namespace: &str,
    endpoint: &SliceEndpoint,
    address: &str,
    ports: &BTreeMap<u16, u16>,
) -> Endpoint {
    let pod_ref = endpoint
        .target_ref
        .as_ref()
        .filter(|r| r.kind.as_deref() == Some("Pod"))
        .and_then(|r| {
            let pod_namespace = r.namespace.as_deref().unwrap_or(namespace);
            Some((pod_namespace, r.name.as_deref()?))
        });
    let pod = pod_ref.and_then(|(ns, name)| objects.get::<Pod>(ns, name));
    // A pod the watch has not delivered yet still serves: its endpoint is kept, without the
    // labels and identity the pod would give it, until the pod arrives.
    let identity = pod.and_then(|pod| {
        let account = pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.as_deref())
            .filter(|sa| !sa.is_empty())
            .unwrap_or(DEFAULT_SERVICE_ACCOUNT);
        let pod_namespace = pod.metadata.namespace.as_deref().unwrap_or(namespace);
        SpiffeId::new(&mesh.trust_domain, pod_namespace, account).ok()
    });
    let node_name = endpoint.node_name.clone().or_else(|| {
        pod.and_then(|p| p.spec.as_ref())
            .and_then(|s| s.node_name.clone())
    });
    Endpoint {
        address: address.to_string(),
        ports: ports.clone(),
        labels: pod
            .and_then(|p| p.metadata.labels.clone())
            .unwrap_or_default(),
        identity,
        locality: Locality {
            zone: endpoint.zone.clone().unwrap_or_default(),
            ..Default::default()
        },
        weight: 1,
        health: health(endpoint),
        workload: pod_ref.map(|(ns, name)| WorkloadRef {
            kind: WorkloadKind::Pod,
            namespace: ns.to_string(),
            name: name.to_string(),
            workload_name: pod.map_or_else(|| name.to_string(), |pod| workload_name(pod, name)),
        }),
        node_name,
    }
}

/// The name Istio's telemetry gives a pod's workload: its Deployment for a pod of a ReplicaSet
/// whose name ends in the pod's `pod-template-hash`, else its controller, else the pod.
pub(super) fn workload_name(pod: &Pod, pod_name: &str) -> String {
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|owner| owner.controller == Some(true));
    let Some(controller) = controller else {
        return pod_name.to_string();
    };
    let hash = label(&pod.metadata, "pod-template-hash").filter(|h| !h.is_empty());
    let deployment = hash
        .filter(|_| controller.kind == "ReplicaSet")
        .and_then(|hash| controller.name.strip_suffix(hash)?.strip_suffix('-'));
    deployment.unwrap_or(&controller.name).to_string()
}

/// Kubernetes reads a missing `ready` or `serving` as true and a missing `terminating` as
/// false.
fn health(endpoint: &SliceEndpoint) -> Health {
    let conditions = endpoint.conditions.clone().unwrap_or_default();
    let ready = conditions.ready.unwrap_or(true);
    let serving = conditions.serving.unwrap_or(ready);
    let terminating = conditions.terminating.unwrap_or(false);
    if ready && !terminating {
        Health::Healthy
    } else if terminating && serving {
        Health::Draining
    } else {
        Health::Unhealthy
    }
}

fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels.as_ref()?.get(key).map(String::as_str)
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}
