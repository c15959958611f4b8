//! `Sidecar`: ingress listeners, egress listeners and hosts, and the outbound traffic policy.

use super::{
    common::{self, Findings},
    gateway, selectors, service_entry, traffic_policy,
};
use crate::{
    api::{
        CaptureMode, IstioEgressListener, IstioIngressListener, OutboundTrafficMode,
        OutboundTrafficPolicy, ServerTlsMode, SidecarPort, SidecarSpec,
    },
    path::FieldPath,
};

pub(super) fn validate(findings: &mut Findings, spec: &SidecarSpec) {
    let path = FieldPath::root().field("spec");
    selectors::workload_labels(
        findings,
        &path.field("workloadSelector"),
        spec.workload_selector.as_ref(),
    );
    let empty = spec.ingress.is_empty()
        && spec.egress.is_empty()
        && spec.outbound_traffic_policy.is_none()
        && spec.inbound_connection_pool.is_none();
    if empty {
        findings.error(
            &path,
            "the Sidecar configures nothing: set egress, ingress, outboundTrafficPolicy or inboundConnectionPool",
        );
    }
    let mut ports: Vec<(u32, usize)> = Vec::new();
    for (i, listener) in spec.ingress.iter().enumerate() {
        let at = path.field("ingress").index(i);
        ingress(findings, &at, listener);
        let number = listener.port.number;
        match ports.iter().find(|(n, _)| *n == number) {
            Some(&(_, first)) => findings.error(
                &at.field("port").field("number"),
                format!(
                    "port {number} is already used by {}: give each ingress listener its own port",
                    path.field("ingress").index(first)
                ),
            ),
            None => ports.push((number, i)),
        }
    }
    if let Some(pool) = &spec.inbound_connection_pool {
        traffic_policy::connection_pool(findings, &path.field("inboundConnectionPool"), pool);
    }
    egress(findings, &path.field("egress"), &spec.egress);
    if let Some(policy) = &spec.outbound_traffic_policy {
        outbound(findings, &path.field("outboundTrafficPolicy"), policy);
    }
}

fn ingress(findings: &mut Findings, path: &FieldPath, listener: &IstioIngressListener) {
    let port_at = path.field("port");
    findings.check(&port_at.field("number"), common::port(listener.port.number));
    port_name_protocol_target(findings, &port_at, &listener.port);
    bind_ip(findings, &path.field("bind"), &listener.bind);
    if !listener.default_endpoint.is_empty() {
        let at = path.field("defaultEndpoint");
        let valid = default_endpoint(&listener.default_endpoint);
        let unix = valid.is_ok() && listener.default_endpoint.starts_with("unix://");
        findings.check(&at, valid);
        if unix {
            // Valid Istio, but mesh-proxy has no unix-socket upstreams.
            findings.warning(
                &at,
                format!(
                    "mesh-proxy cannot forward to a unix socket, so port {} will not be served: forward to 127.0.0.1:PORT instead",
                    listener.port.number
                ),
            );
        }
    }
    if let Some(tls) = &listener.tls {
        let at = path.field("tls");
        let unsupported = [
            ("subjectAltNames", !tls.subject_alt_names.is_empty()),
            ("httpsRedirect", tls.https_redirect.is_some()),
            ("credentialName", !tls.credential_name.is_empty()),
        ];
        for (field, set) in unsupported {
            if set {
                findings.error(
                    &at.field(field),
                    format!("{field} is not supported on sidecar ingress listeners: remove it"),
                );
            }
        }
        if let Some(mode @ (ServerTlsMode::IstioMutual | ServerTlsMode::AutoPassthrough)) = tls.mode
        {
            let name = if mode == ServerTlsMode::IstioMutual {
                "ISTIO_MUTUAL"
            } else {
                "AUTO_PASSTHROUGH"
            };
            findings.error(
                &at.field("mode"),
                format!("mode {name} cannot be used on sidecar ingress listeners: use SIMPLE or MUTUAL (mesh mTLS is set by PeerAuthentication)"),
            );
        }
        gateway::server_tls(findings, &at, tls);
    }
    if let Some(pool) = &listener.connection_pool {
        let at = path.field("connectionPool");
        traffic_policy::connection_pool(findings, &at, pool);
        let protocol = listener.port.protocol.to_ascii_uppercase();
        let http = ["HTTP", "HTTP2", "GRPC", "GRPC-WEB"].contains(&protocol.as_str());
        if pool.http.is_some() && !http {
            findings.warning(
                &at.field("http"),
                format!(
                    "port {} is not HTTP (protocol {:?}), so only the tcp settings apply: remove http or set an HTTP protocol",
                    listener.port.number, listener.port.protocol
                ),
            );
        }
    }
}

fn egress(findings: &mut Findings, path: &FieldPath, listeners: &[IstioEgressListener]) {
    let mut catch_all = false;
    let mut ports: Vec<u32> = Vec::new();
    let mut sockets: Vec<&str> = Vec::new();
    for (i, listener) in listeners.iter().enumerate() {
        let at = path.index(i);
        match &listener.port {
            None if catch_all => findings.error(
                &at,
                "only one egress listener may leave out port: merge the hosts of the listeners without a port",
            ),
            None if i + 1 != listeners.len() => {
                catch_all = true;
                findings.error(
                    &at,
                    "the egress listener without port catches all other traffic and must come last: move it to the end",
                );
            }
            None => catch_all = true,
            Some(port) => {
                let port_at = at.field("port");
                port_name_protocol_target(findings, &port_at, port);
                if port.number == 0 {
                    match listener.bind.strip_prefix("unix://") {
                        None => findings.error(
                            &at.field("bind"),
                            "a listener with port 0 must bind a unix socket: write bind: unix:///path, or set a port",
                        ),
                        Some(socket) => {
                            findings.check(&at.field("bind"), common::unix_socket(socket));
                            if sockets.contains(&socket) {
                                findings.error(
                                    &at.field("bind"),
                                    format!("unix socket {socket:?} is already bound by another listener"),
                                );
                            }
                            sockets.push(socket);
                        }
                    }
                    if matches!(listener.capture_mode, Some(CaptureMode::Iptables)) {
                        findings.error(
                            &at.field("captureMode"),
                            "unix socket listeners cannot capture traffic: use captureMode DEFAULT or NONE",
                        );
                    }
                } else {
                    findings.check(&port_at.field("number"), common::port(port.number));
                    bind_ip(findings, &at.field("bind"), &listener.bind);
                    if ports.contains(&port.number) {
                        findings.error(
                            &port_at.field("number"),
                            format!("port {} already has an egress listener: merge them", port.number),
                        );
                    }
                    ports.push(port.number);
                }
            }
        }
        egress_hosts(findings, &at.field("hosts"), &listener.hosts);
    }
}

fn egress_hosts(findings: &mut Findings, path: &FieldPath, hosts: &[String]) {
    if hosts.is_empty() {
        findings.error(
            path,
            "list at least one host, e.g. \"./*\" (this namespace) or \"istio-system/*\"",
        );
    }
    for (k, host) in hosts.iter().enumerate() {
        let at = path.index(k);
        if let Err(message) = common::namespaced_host(host, false) {
            findings.error(&at, message);
        } else if hosts[..k].contains(host) {
            findings.warning(&at, format!("host {host:?} is listed twice: remove one"));
        }
    }
}

fn outbound(findings: &mut Findings, path: &FieldPath, policy: &OutboundTrafficPolicy) {
    let Some(proxy) = &policy.egress_proxy else {
        return;
    };
    let at = path.field("egressProxy");
    if policy.mode != Some(OutboundTrafficMode::AllowAny) {
        findings.error(
            &at,
            "egressProxy applies only with mode ALLOW_ANY: set mode: ALLOW_ANY or remove egressProxy",
        );
        return;
    }
    findings.check(&at.field("host"), common::fqdn(&proxy.host));
    match &proxy.port {
        None => findings.error(
            &at.field("port"),
            "set the egress proxy's port, e.g. port: {number: 3128}",
        ),
        Some(port) => findings.check(&at.field("port").field("number"), common::port(port.number)),
    }
}

fn port_name_protocol_target(findings: &mut Findings, path: &FieldPath, port: &SidecarPort) {
    if !port.name.is_empty() && !common::is_dns_label(&port.name) {
        findings.error(
            &path.field("name"),
            format!(
                "port name {:?} is invalid: use a DNS label such as \"http\"",
                port.name
            ),
        );
    }
    service_entry::protocol(findings, &path.field("protocol"), &port.protocol);
    if port.target_port.is_some() {
        findings.error(
            &path.field("targetPort"),
            "targetPort has no effect on Sidecars: remove it",
        );
    }
}

fn bind_ip(findings: &mut Findings, path: &FieldPath, bind: &str) {
    if !bind.is_empty() && !common::is_ip(bind) {
        findings.error(
            path,
            format!("bind {bind:?} is not an IP address, e.g. \"127.0.0.1\""),
        );
    }
}

/// Where an ingress listener forwards: the application on a loopback or any-address port, or a
/// unix socket.
fn default_endpoint(endpoint: &str) -> Result<(), String> {
    if let Some(socket) = endpoint.strip_prefix("unix://") {
        return common::unix_socket(socket);
    }
    let invalid = || {
        format!(
            "defaultEndpoint {endpoint:?} is invalid: write 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path"
        )
    };
    let (host, port) = endpoint.rsplit_once(':').ok_or_else(invalid)?;
    let host = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => ipv6,
        None if host.contains(':') => return Err(invalid()),
        None => host,
    };
    if !["", "127.0.0.1", "0.0.0.0", "::1", "::"].contains(&host) {
        return Err(invalid());
    }
    let port: u32 = port.parse().map_err(|_| invalid())?;
    common::port(port)
}
