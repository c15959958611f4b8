//! `Gateway`: servers (port, protocol, hosts) and how they terminate TLS. The TLS rules also
//! serve the ingress listeners of Sidecars.

use super::{
    common::{self, Findings},
    selectors,
};
use crate::{
    api::{GatewaySpec, Server, ServerTlsMode, ServerTlsSettings, TlsProtocol},
    path::FieldPath,
};

/// The protocols a gateway server speaks.
const GATEWAY_PROTOCOLS: &[&str] = &[
    "HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS",
];

/// The cipher suites the proxy's TLS stack knows; others are ignored (validation warns of
/// them, translation leaves them out).
pub const CIPHER_SUITES: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
    "DES-CBC3-SHA",
];

pub(super) fn validate(findings: &mut Findings, name: &str, spec: &GatewaySpec) {
    if !common::is_dns_label(name) {
        findings.error(
            &FieldPath::parse("metadata.name"),
            format!(
                "gateway name {name:?} is invalid: VirtualServices refer to gateways as namespace/name, so use a DNS label (lowercase letters, digits and '-', no dots)"
            ),
        );
    }
    let path = FieldPath::root().field("spec");
    if spec.servers.is_empty() {
        findings.error(
            &path.field("servers"),
            "add at least one server: the port, protocol and hosts this gateway serves",
        );
    }
    let mut port_names: Vec<(&str, usize)> = Vec::new();
    for (i, server) in spec.servers.iter().enumerate() {
        let at = path.field("servers").index(i);
        self::server(findings, &at, server);
        let name = server.port.name.as_str();
        if name.is_empty() {
            continue;
        }
        match port_names.iter().find(|(n, _)| *n == name) {
            Some(&(_, first)) => findings.error(
                &at.field("port").field("name"),
                format!(
                    "port name {name:?} is already used by {}: give each server's port its own name",
                    path.field("servers").index(first)
                ),
            ),
            None => port_names.push((name, i)),
        }
    }
    selectors::labels(findings, &path.field("selector"), &spec.selector);
}

fn server(findings: &mut Findings, path: &FieldPath, server: &Server) {
    if server.hosts.is_empty() {
        findings.error(
            &path.field("hosts"),
            "list at least one host, e.g. \"*\" or \"bookinfo.example.com\"",
        );
    }
    for (k, host) in server.hosts.iter().enumerate() {
        findings.check(
            &path.field("hosts").index(k),
            common::namespaced_host(host, true),
        );
    }
    let port = &server.port;
    let port_at = path.field("port");
    let protocol = port.protocol.to_ascii_uppercase();
    let known_protocol = GATEWAY_PROTOCOLS.contains(&protocol.as_str());
    if !known_protocol {
        findings.error(
            &port_at.field("protocol"),
            format!(
                "protocol {:?} is not supported: use one of {}",
                port.protocol,
                GATEWAY_PROTOCOLS.join(", ")
            ),
        );
    }
    let unix = server.bind.strip_prefix("unix://");
    match unix {
        Some(socket) => {
            findings.check(&path.field("bind"), common::unix_socket(socket));
            if port.number != 0 {
                findings.error(
                    &port_at.field("number"),
                    "a server bound to a unix socket takes port number 0",
                );
            }
        }
        None => {
            findings.check(&port_at.field("number"), common::port(port.number));
            if !server.bind.is_empty() && !common::is_ip(&server.bind) {
                findings.error(
                    &path.field("bind"),
                    format!(
                        "bind {:?} is not an IP address: write e.g. \"0.0.0.0\" or \"unix:///path\"",
                        server.bind
                    ),
                );
            }
        }
    }
    if port.target_port.is_some() {
        findings.error(
            &port_at.field("targetPort"),
            "targetPort has no effect on gateways: remove it",
        );
    }
    if port.name.is_empty() {
        findings.error(
            &port_at.field("name"),
            "name the port, e.g. \"http\" (each server's port needs its own name)",
        );
    }
    if let Some(tls) = &server.tls {
        server_tls(findings, &path.field("tls"), tls);
    }
    if known_protocol {
        server_protocol_tls(findings, path, &protocol, server.tls.as_ref());
    }
}

/// Whether the server's protocol and its TLS settings agree.
fn server_protocol_tls(
    findings: &mut Findings,
    path: &FieldPath,
    protocol: &str,
    tls: Option<&ServerTlsSettings>,
) {
    let terminates_tls = ["HTTPS", "TLS"].contains(&protocol);
    let http = ["HTTP", "HTTP2", "GRPC", "GRPC-WEB"].contains(&protocol);
    match tls {
        None if terminates_tls => findings.error(
            &path.field("tls"),
            format!("{protocol} servers need tls settings: set tls.mode and credentialName"),
        ),
        None => {}
        Some(_) if terminates_tls => {}
        Some(tls) if http => {
            let passthrough = matches!(
                tls.mode,
                None | Some(ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough)
            );
            let certificates = !tls.server_certificate.is_empty()
                || !tls.private_key.is_empty()
                || !tls.ca_certificates.is_empty();
            if !passthrough || certificates {
                findings.error(
                    &path.field("tls"),
                    format!(
                        "{protocol} servers do not terminate TLS: use protocol HTTPS, or keep only tls.httpsRedirect"
                    ),
                );
            }
        }
        Some(_) => findings.error(
            &path.field("tls"),
            format!("{protocol} servers cannot have tls settings: use protocol TLS"),
        ),
    }
    if tls.is_some_and(|t| t.https_redirect == Some(true)) && !http {
        findings.warning(
            &path.field("tls").field("httpsRedirect"),
            format!("httpsRedirect applies only to HTTP servers, not {protocol}: remove it"),
        );
    }
}

/// How a gateway server or a Sidecar ingress listener terminates TLS.
pub(super) fn server_tls(findings: &mut Findings, path: &FieldPath, tls: &ServerTlsSettings) {
    protocol_versions(findings, path, tls);
    let mut seen: Vec<&str> = Vec::new();
    for (k, suite) in tls.cipher_suites.iter().enumerate() {
        let at = path.field("cipherSuites").index(k);
        // A leading operator ("-", "+", "!") edits the default list, as in BoringSSL.
        let operator = !suite.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !(operator || suite == "ALL" || CIPHER_SUITES.contains(&suite.as_str())) {
            findings.warning(
                &at,
                format!("cipher suite {suite:?} is unknown and ignored: remove it"),
            );
        } else if seen.contains(&suite.as_str()) {
            findings.warning(
                &at,
                format!("cipher suite {suite:?} is listed twice: remove one"),
            );
        }
        seen.push(suite);
    }
    let set = |fields: &[(&'static str, &str)]| -> Vec<&'static str> {
        fields
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(name, _)| *name)
            .collect()
    };
    let certificate = ("serverCertificate", tls.server_certificate.as_str());
    let key = ("privateKey", tls.private_key.as_str());
    let ca = ("caCertificates", tls.ca_certificates.as_str());
    let crl = ("caCrl", tls.ca_crl.as_str());
    let credential = ("credentialName", tls.credential_name.as_str());
    let credential_given = !tls.credential_name.is_empty()
        || !tls.credential_names.is_empty()
        || !tls.tls_certificates.is_empty();
    if !tls.credential_name.is_empty() && !tls.credential_names.is_empty() {
        findings.error(
            path,
            "set at most one of credentialName and credentialNames",
        );
    }
    match tls.mode {
        Some(ServerTlsMode::IstioMutual) => {
            let own = set(&[certificate, key, ca, credential]);
            if !own.is_empty() {
                findings.error(
                    path,
                    format!(
                        "ISTIO_MUTUAL uses the mesh's own certificates: remove {} (or use mode MUTUAL)",
                        common::enumerate(&own)
                    ),
                );
            }
            return;
        }
        None | Some(ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough) => {
            let ignored = set(&[certificate, key, ca, crl, credential]);
            if !ignored.is_empty() {
                findings.warning(
                    path,
                    format!(
                        "passthrough does not terminate TLS and ignores {}: remove the certificate settings, or use mode SIMPLE",
                        common::enumerate(&ignored)
                    ),
                );
            }
        }
        Some(mode) if !credential_given => {
            let mutual = mode != ServerTlsMode::Simple;
            let name = if mutual { "MUTUAL" } else { "SIMPLE" };
            let required: &[(&str, &str)] = if mutual {
                &[certificate, key, ca]
            } else {
                &[certificate, key]
            };
            for (field, value) in required {
                if value.is_empty() {
                    findings.error(
                        &path.field(*field),
                        format!("{name} TLS needs {field}, or a credentialName instead of files"),
                    );
                }
            }
        }
        Some(_) => {}
    }
    if !tls.ca_crl.is_empty() {
        if !tls.credential_name.is_empty() {
            findings.error(
                &path.field("caCrl"),
                "caCrl cannot be used with credentialName: put the CRL in the credential",
            );
        }
        if tls.mode == Some(ServerTlsMode::Simple) {
            findings.error(
                &path.field("caCrl"),
                "caCrl applies to client certificates, which SIMPLE TLS does not ask for: use MUTUAL or remove it",
            );
        }
    }
}

fn protocol_versions(findings: &mut Findings, path: &FieldPath, tls: &ServerTlsSettings) {
    let versions = (tls.min_protocol_version, tls.max_protocol_version);
    if let (Some(min), Some(max)) = versions
        && min != TlsProtocol::Auto
        && max != TlsProtocol::Auto
        && min > max
    {
        findings.error(
            &path.field("minProtocolVersion"),
            format!(
                "minProtocolVersion {} is above maxProtocolVersion {}: lower it or raise the maximum",
                version_name(min),
                version_name(max)
            ),
        );
    }
    let old = matches!(
        tls.min_protocol_version,
        Some(TlsProtocol::V1_0 | TlsProtocol::V1_1)
    );
    if old && tls.cipher_suites.is_empty() {
        findings.warning(
            &path.field("minProtocolVersion"),
            "the default cipher suites do not work with TLS below 1.2: list cipherSuites that do",
        );
    }
}

fn version_name(version: TlsProtocol) -> &'static str {
    match version {
        TlsProtocol::Auto => "TLS_AUTO",
        TlsProtocol::V1_0 => "TLSV1_0",
        TlsProtocol::V1_1 => "TLSV1_1",
        TlsProtocol::V1_2 => "TLSV1_2",
        TlsProtocol::V1_3 => "TLSV1_3",
    }
}
