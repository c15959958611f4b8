//! `ServiceEntry` and `WorkloadEntry`: services added to the registry and the workloads behind
//! them.

use super::{
    common::{self, Findings},
    selectors,
};
use crate::{
    api::{ServiceEntryResolution as Resolution, ServiceEntrySpec, WorkloadEntrySpec},
    path::FieldPath,
};

/// The protocols of service ports (empty means: detect it).
pub(super) const SERVICE_PROTOCOLS: &[&str] = &[
    "HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "MYSQL", "REDIS", "TCP", "TLS", "UDP",
];

/// What a workload's address may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Addresses {
    /// Resolution STATIC: the proxy connects to the address as written.
    IpOnly,
    IpOrName,
}

pub(super) fn validate_workload_entry(findings: &mut Findings, spec: &WorkloadEntrySpec) {
    workload(
        findings,
        &FieldPath::root().field("spec"),
        spec,
        None,
        Addresses::IpOrName,
    );
}

pub(super) fn validate(findings: &mut Findings, namespace: &str, spec: &ServiceEntrySpec) {
    let path = FieldPath::root().field("spec");
    let selector_at = path.field("workloadSelector");
    selectors::workload_labels(findings, &selector_at, spec.workload_selector.as_ref());
    if spec.workload_selector.is_some() && !spec.endpoints.is_empty() {
        findings.error(
            &selector_at,
            "set at most one of endpoints and workloadSelector",
        );
    }
    if spec.hosts.is_empty() {
        findings.error(
            &path.field("hosts"),
            "list at least one host, e.g. \"api.example.com\"",
        );
    }
    for (i, host) in spec.hosts.iter().enumerate() {
        let result = if host == "*" {
            Err("host \"*\" would capture every host: name the service, e.g. \"api.example.com\" or \"*.example.com\"".to_string())
        } else {
            common::host(host)
        };
        findings.check(&path.field("hosts").index(i), result);
    }
    let resolution = spec.resolution.unwrap_or(Resolution::None);
    for (i, address) in spec.addresses.iter().enumerate() {
        let at = path.field("addresses").index(i);
        findings.check(&at, common::ip_or_cidr(address));
        if address.contains('/') && ![Resolution::None, Resolution::Static].contains(&resolution) {
            findings.error(
                &at,
                format!(
                    "CIDR block {address:?} needs resolution NONE or STATIC: DNS resolves single hosts"
                ),
            );
        }
    }
    let declared = ports(findings, &path.field("ports"), spec, resolution);
    endpoints(findings, &path, spec, resolution, &declared);
    if resolution != Resolution::None && spec.hosts.len() > 1 {
        let opaque = spec.ports.iter().enumerate().find(|(_, p)| {
            let protocol = p.protocol.to_ascii_uppercase();
            !["HTTP", "HTTP2", "GRPC", "GRPC-WEB", "HTTPS", "TLS"].contains(&protocol.as_str())
        });
        if let Some((k, port)) = opaque {
            findings.error(
                &path.field("ports").index(k),
                format!(
                    "several hosts share TCP port {}, and the proxy cannot tell them apart: use one ServiceEntry per host, or resolution NONE",
                    port.number
                ),
            );
        }
    }
    common::export_to(
        findings,
        &path.field("exportTo"),
        namespace,
        &spec.export_to,
        true,
        false,
    );
    for (k, name) in spec.subject_alt_names.iter().enumerate() {
        if name.is_empty() {
            findings.error(
                &path.field("subjectAltNames").index(k),
                "subject alternative name is empty: remove it or write the name",
            );
        }
    }
}

/// Checks the service ports and returns their names, which endpoints refer to.
fn ports<'a>(
    findings: &mut Findings,
    path: &FieldPath,
    spec: &'a ServiceEntrySpec,
    resolution: Resolution,
) -> Vec<&'a str> {
    let mut names: Vec<&str> = Vec::new();
    let mut numbers: Vec<u32> = Vec::new();
    for (k, port) in spec.ports.iter().enumerate() {
        let at = path.index(k);
        if !common::is_dns_label(&port.name) {
            findings.error(
                &at.field("name"),
                format!(
                    "port name {:?} is invalid: use a DNS label such as \"http\" or \"tcp-db\"",
                    port.name
                ),
            );
        } else if names.contains(&port.name.as_str()) {
            findings.error(
                &at.field("name"),
                format!(
                    "port name {:?} is already used: give each port its own name",
                    port.name
                ),
            );
        }
        names.push(&port.name);
        findings.check(&at.field("number"), common::port(port.number));
        if numbers.contains(&port.number) {
            findings.error(
                &at.field("number"),
                format!(
                    "port {} is already declared: list each port once",
                    port.number
                ),
            );
        }
        numbers.push(port.number);
        protocol(findings, &at.field("protocol"), &port.protocol);
        if let Some(target) = port.target_port {
            findings.check(&at.field("targetPort"), common::port(target));
            if resolution == Resolution::None {
                findings.warning(
                    &at.field("targetPort"),
                    "targetPort has no effect with resolution NONE: the proxy connects to the port the client dialled",
                );
            }
        }
    }
    names
}

/// A port protocol of a ServiceEntry or Sidecar listener.
pub(super) fn protocol(findings: &mut Findings, path: &FieldPath, protocol: &str) {
    if !protocol.is_empty() && !SERVICE_PROTOCOLS.contains(&protocol.to_ascii_uppercase().as_str())
    {
        findings.error(
            path,
            format!(
                "protocol {protocol:?} is not supported: use one of {} (or leave it out to detect it)",
                SERVICE_PROTOCOLS.join(", ")
            ),
        );
    }
}

fn endpoints(
    findings: &mut Findings,
    path: &FieldPath,
    spec: &ServiceEntrySpec,
    resolution: Resolution,
    declared: &[&str],
) {
    let at = path.field("endpoints");
    match resolution {
        Resolution::None => {
            if !spec.endpoints.is_empty() {
                findings.error(
                    &at,
                    "resolution NONE forwards to the address the client dialled, so endpoints are unused: remove them, or use resolution STATIC or DNS",
                );
            }
        }
        Resolution::Static => {
            if spec.endpoints.is_empty() && spec.workload_selector.is_none() {
                findings.warning(
                    path,
                    "resolution STATIC with neither endpoints nor a workloadSelector has no endpoints, so requests fail: add one of them",
                );
            }
            for (k, endpoint) in spec.endpoints.iter().enumerate() {
                workload(
                    findings,
                    &at.index(k),
                    endpoint,
                    Some(declared),
                    Addresses::IpOnly,
                );
            }
        }
        Resolution::Dns | Resolution::DnsRoundRobin => {
            if spec.endpoints.is_empty() {
                for (i, host) in spec.hosts.iter().enumerate() {
                    if host.starts_with('*') {
                        findings.error(
                            &path.field("hosts").index(i),
                            format!(
                                "host {host:?} cannot be resolved by DNS: name a concrete host, add endpoints, or use resolution NONE"
                            ),
                        );
                    }
                }
            }
            if resolution == Resolution::DnsRoundRobin && spec.endpoints.len() > 1 {
                findings.error(
                    &at,
                    "resolution DNS_ROUND_ROBIN takes at most one endpoint: use resolution DNS for several",
                );
            }
            for (k, endpoint) in spec.endpoints.iter().enumerate() {
                workload(
                    findings,
                    &at.index(k),
                    endpoint,
                    Some(declared),
                    Addresses::IpOrName,
                );
            }
        }
    }
    if resolution != Resolution::Static && spec.workload_selector.is_some() {
        findings.warning(
            &path.field("workloadSelector"),
            "workloadSelector is used only with resolution STATIC: set resolution: STATIC",
        );
    }
    let unix = spec
        .endpoints
        .iter()
        .any(|e| e.address.starts_with("unix://"));
    if unix && declared.len() != 1 {
        findings.error(
            &path.field("ports"),
            "endpoints on unix sockets need exactly one service port",
        );
    }
}

/// A workload: a WorkloadEntry's spec, or an endpoint of a ServiceEntry (which names the ports
/// it declared).
fn workload(
    findings: &mut Findings,
    path: &FieldPath,
    workload: &WorkloadEntrySpec,
    declared_ports: Option<&[&str]>,
    addresses: Addresses,
) {
    let address = workload.address.as_str();
    let address_at = path.field("address");
    if address.is_empty() {
        if workload.network.is_empty() {
            findings.error(
                &address_at,
                "address is required: an IP address, a DNS name or unix:///path/to/socket",
            );
        } else {
            findings.warning(
                &address_at,
                format!(
                    "address is empty: the workload is reached through the gateway of network {:?}",
                    workload.network
                ),
            );
        }
    } else if let Some(socket) = address.strip_prefix("unix://") {
        findings.check(&address_at, common::unix_socket(socket));
        if !workload.ports.is_empty() {
            findings.error(
                &path.field("ports"),
                format!("{address:?} is a unix socket, which has no ports: remove ports"),
            );
        }
    } else if !common::is_ip(address) {
        if addresses == Addresses::IpOnly {
            findings.error(
                &address_at,
                format!(
                    "address {address:?} is not an IP address: resolution STATIC needs IPs (use resolution DNS for host names)"
                ),
            );
        } else if common::fqdn(address).is_err() {
            findings.error(
                &address_at,
                format!("address {address:?} is not an IP address, a DNS name or a unix:// socket"),
            );
        }
    }
    for (name, number) in &workload.ports {
        let at = path.field("ports").field(name.as_str());
        match declared_ports {
            Some(declared) if !declared.contains(&name.as_str()) => findings.error(
                &at,
                format!(
                    "port {name:?} is not declared in spec.ports: use one of [{}]",
                    declared.join(", ")
                ),
            ),
            _ if !common::is_dns_label(name) => findings.error(
                &at,
                format!("port name {name:?} is invalid: use a DNS label such as \"http\""),
            ),
            _ => {}
        }
        findings.check(&at, common::port(*number));
    }
    selectors::labels(findings, &path.field("labels"), &workload.labels);
    if workload.weight == Some(0) {
        findings.error(
            &path.field("weight"),
            "weight 0 is not allowed: the lowest weight is 1 (remove the endpoint to send it no traffic)",
        );
    }
    if !workload.locality.is_empty() {
        findings.check(
            &path.field("locality"),
            common::locality(&workload.locality),
        );
    }
}
