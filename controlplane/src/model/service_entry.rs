//! Services from ServiceEntries: one per host, with the entry's own endpoints, the
//! WorkloadEntries and Pods its `workloadSelector` picks, or for DNS resolution the host itself.

use std::{collections::BTreeMap, sync::Arc};

use k8s_openapi::api::core::v1::Pod;
use mesh_common::{
    api::{
        Kind, Resource, ServiceEntry, ServiceEntryLocation, ServiceEntryResolution,
        WorkloadEntrySpec,
    },
    identity::SpiffeId,
};

use super::{
    Config, DeclaredBy, Endpoint, Health, IstioConfig, Locality, Location, Objects, Protocol,
    Resolution, Service, ServicePort, WorkloadKind, WorkloadRef,
    host::is_wildcard,
    kube::{DEFAULT_SERVICE_ACCOUNT, workload_name},
    resolve_host,
};
use crate::mesh_config::MeshConfig;

/// What a ServiceEntry's `workloadSelector` chooses from.
struct Workloads<'a> {
    entries: &'a [Arc<Config>],
    objects: &'a Objects,
}

/// One service per host of each accepted ServiceEntry, in the entries' order.
pub(super) fn services(config: &IstioConfig, objects: &Objects, mesh: &MeshConfig) -> Vec<Service> {
    let workloads = Workloads {
        entries: config.of_kind(Kind::WorkloadEntry),
        objects,
    };
    config
        .of_kind(Kind::ServiceEntry)
        .iter()
        .filter_map(|c| match &c.resource {
            Resource::ServiceEntry(entry) => Some((c, entry)),
            _ => None,
        })
        .flat_map(|(c, entry)| {
            entry
                .spec
                .hosts
                .iter()
                .map(|host| service_of(c, entry, host, &workloads, mesh))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn service_of(
    config: &Config,
    entry: &ServiceEntry,
    host: &str,
    workloads: &Workloads<'_>,
    mesh: &MeshConfig,
) -> Service {
    let namespace = config.resource.namespace();
    let spec = &entry.spec;
    let ports: Vec<ServicePort> = spec
        .ports
        .iter()
        .filter_map(|port| {
            Some(ServicePort {
                name: port.name.clone(),
                number: u16::try_from(port.number).ok()?,
                protocol: Protocol::parse(&port.protocol).unwrap_or(Protocol::Auto),
            })
        })
        .collect();
    let resolution = match spec.resolution.unwrap_or(ServiceEntryResolution::None) {
        ServiceEntryResolution::None => Resolution::Passthrough,
        ServiceEntryResolution::Static => Resolution::ClientSideLb,
        ServiceEntryResolution::Dns => Resolution::Dns,
        ServiceEntryResolution::DnsRoundRobin => Resolution::DnsRoundRobin,
    };
    let location = match spec.location {
        Some(ServiceEntryLocation::MeshInternal) => Location::MeshInternal,
        Some(ServiceEntryLocation::MeshExternal) | None => Location::MeshExternal,
    };
    let workload = |spec: &WorkloadEntrySpec, workload: Option<WorkloadRef>| {
        endpoint_of(entry, spec, workload, &ports, namespace, mesh)
    };
    let selects = |labels: &BTreeMap<String, String>| {
        spec.workload_selector
            .as_ref()
            .is_some_and(|s| s.labels.iter().all(|(k, v)| labels.get(k) == Some(v)))
    };
    let mut endpoints: Vec<Endpoint> = match &spec.workload_selector {
        Some(_) => workloads
            .entries
            .iter()
            .filter(|c| c.resource.namespace() == namespace)
            .filter_map(|c| match &c.resource {
                Resource::WorkloadEntry(we) => Some((c, we)),
                _ => None,
            })
            .filter(|(_, we)| selects(&we.spec.labels))
            .map(|(c, we)| {
                let reference = WorkloadRef {
                    kind: WorkloadKind::WorkloadEntry,
                    namespace: namespace.to_string(),
                    name: c.resource.name().to_string(),
                    workload_name: c.resource.name().to_string(),
                };
                workload(&we.spec, Some(reference))
            })
            .chain(
                workloads
                    .objects
                    .all::<Pod>()
                    .iter()
                    .filter(|(key, _)| key.namespace == namespace)
                    .filter(|(_, pod)| {
                        selects(pod.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()))
                    })
                    .filter_map(|(key, pod)| pod_endpoint(pod, &key.name, &workload)),
            )
            .collect(),
        None => spec.endpoints.iter().map(|e| workload(e, None)).collect(),
    };
    let resolves_host = matches!(resolution, Resolution::Dns | Resolution::DnsRoundRobin);
    if endpoints.is_empty()
        && spec.workload_selector.is_none()
        && resolves_host
        && !is_wildcard(host)
    {
        // With DNS resolution and no endpoints, the host itself is what the proxy resolves.
        let only = WorkloadEntrySpec {
            address: host.to_string(),
            ..WorkloadEntrySpec::default()
        };
        endpoints.push(workload(&only, None));
    }
    endpoints.sort_by(|a, b| a.address.cmp(&b.address));
    Service {
        hostname: resolve_host(host, namespace, &mesh.cluster_domain),
        namespace: namespace.to_string(),
        declared_by: DeclaredBy::ServiceEntry(config.resource.name().to_string()),
        addresses: spec.addresses.clone(),
        ports,
        location,
        resolution,
        export_to: config.export_to.clone(),
        subject_alt_names: spec.subject_alt_names.clone(),
        endpoints,
    }
}

/// A selected pod, once it has an address and while it runs.
fn pod_endpoint(
    pod: &Pod,
    name: &str,
    workload: &impl Fn(&WorkloadEntrySpec, Option<WorkloadRef>) -> Endpoint,
) -> Option<Endpoint> {
    let status = pod.status.as_ref()?;
    let address = status.pod_ip.clone().filter(|ip| !ip.is_empty())?;
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    let spec = pod.spec.as_ref();
    let as_workload = WorkloadEntrySpec {
        address,
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        service_account: spec
            .and_then(|s| s.service_account_name.clone())
            .filter(|sa| !sa.is_empty())
            .unwrap_or_else(|| DEFAULT_SERVICE_ACCOUNT.to_string()),
        ..WorkloadEntrySpec::default()
    };
    let reference = WorkloadRef {
        kind: WorkloadKind::Pod,
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: name.to_string(),
        workload_name: workload_name(pod, name),
    };
    let ready = status
        .conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    let health = match (ready, pod.metadata.deletion_timestamp.is_some()) {
        (true, false) => Health::Healthy,
        (true, true) => Health::Draining,
        (false, _) => Health::Unhealthy,
    };
    Some(Endpoint {
        health,
        node_name: spec.and_then(|s| s.node_name.clone()),
        ..workload(&as_workload, Some(reference))
    })
}

/// An endpoint of a ServiceEntry, written inline or as a WorkloadEntry. Its port for each
/// service port is the one it names for the port's name, else the port's `targetPort`, else
/// the service port itself.
fn endpoint_of(
    entry: &ServiceEntry,
    spec: &WorkloadEntrySpec,
    workload: Option<WorkloadRef>,
    ports: &[ServicePort],
    namespace: &str,
    mesh: &MeshConfig,
) -> Endpoint {
    let endpoint_ports: BTreeMap<u16, u16> = ports
        .iter()
        .filter_map(|port| {
            let declared = entry.spec.ports.iter().find(|p| p.name == port.name);
            let target = spec
                .ports
                .get(&port.name)
                .copied()
                .or_else(|| declared.and_then(|p| p.target_port))
                .unwrap_or(u32::from(port.number));
            Some((port.number, u16::try_from(target).ok()?))
        })
        .collect();
    let identity = Some(spec.service_account.as_str())
        .filter(|sa| !sa.is_empty())
        .and_then(|sa| SpiffeId::new(&mesh.trust_domain, namespace, sa).ok());
    Endpoint {
        address: spec.address.clone(),
        ports: endpoint_ports,
        labels: spec.labels.clone(),
        identity,
        locality: Locality::parse(&spec.locality),
        // Istio reads 0 as "not set".
        weight: spec.weight.filter(|w| *w > 0).unwrap_or(1),
        health: Health::Healthy,
        workload,
        node_name: None,
    }
}
