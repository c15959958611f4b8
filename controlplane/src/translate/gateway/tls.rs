//! The TLS a gateway server terminates: its `tls` settings to the `DownstreamTlsContext` of its
//! filter chain, and its hosts to the chain's SNI match, as Istio's
//! `buildGatewayListenerTLSContext` builds them. Certificates come from files the proxy reads
//! (`serverCertificate`, `privateKey`, `caCertificates`) or, for `credentialName`, over SDS on
//! the ADS stream, under the names Istio gives them: `kubernetes://<name>` for the certificate
//! and `kubernetes://<name>-cacert` for the CA that verifies clients.

use envoy_types::pb::{
    envoy::{
        config::core::v3::{TransportSocket, transport_socket},
        extensions::transport_sockets::tls::v3::{
            CertificateValidationContext, CommonTlsContext, DownstreamTlsContext, TlsCertificate,
            TlsParameters,
            common_tls_context::{CombinedCertificateValidationContext, ValidationContextType},
            tls_parameters::TlsProtocol as EnvoyTlsProtocol,
        },
    },
    google::protobuf::BoolValue,
};
use envoy_types::util::pack_any;
use mesh_common::{
    api::{ServerTlsMode, ServerTlsSettings, TlsProtocol},
    validate::CIPHER_SUITES,
};

use crate::{
    model::{SDS_CA_SUFFIX, SDS_PREFIX},
    translate::tls::{TLS_TRANSPORT_SOCKET, file, sds, subject_alt_names},
};

/// What HTTPS servers offer with ALPN, as Istio does.
const ALPN_HTTP: [&str; 2] = ["h2", "http/1.1"];

/// A server's terminating TLS: the chain's transport socket, and what of the settings it
/// leaves aside (one line each, for the gateway's warnings).
#[derive(Debug)]
pub(super) struct Termination {
    pub socket: TransportSocket,
    pub notes: Vec<String>,
}

/// The SNI names a chain of a server with these hosts matches: the hosts without their
/// namespace part, sorted and without repeats; none when one of them is `*` (Envoy has no `*`
/// server name, and a chain with no name matches every client, as Istio makes it).
pub(super) fn server_names(hosts: &[String]) -> Vec<String> {
    let mut names: Vec<String> = hosts
        .iter()
        .map(|h| h.split_once('/').map_or(h.as_str(), |(_, host)| host))
        .map(str::to_string)
        .collect();
    if names.iter().any(|n| n == "*") {
        return Vec::new();
    }
    names.sort();
    names.dedup();
    names
}

/// The `DownstreamTlsContext` of a server in mode `SIMPLE`, `MUTUAL` or `OPTIONAL_MUTUAL`;
/// `http` offers HTTP/2 and HTTP/1.1 by ALPN (HTTPS servers). An error says why the server
/// cannot be served.
pub(super) fn termination(tls: &ServerTlsSettings, http: bool) -> Result<Termination, String> {
    let mode = tls.mode.unwrap_or(ServerTlsMode::Passthrough);
    let verifies_clients = match mode {
        ServerTlsMode::Simple => false,
        ServerTlsMode::Mutual | ServerTlsMode::OptionalMutual => true,
        ServerTlsMode::Passthrough
        | ServerTlsMode::AutoPassthrough
        | ServerTlsMode::IstioMutual => {
            return Err(format!(
                "tls mode {} does not terminate TLS here",
                mode_name(mode)
            ));
        }
    };
    if !tls.tls_certificates.is_empty() {
        return Err(
            "tls.tlsCertificates is not supported yet: use serverCertificate and privateKey, or \
             credentialName"
                .to_string(),
        );
    }
    let mut notes = Vec::new();
    let credentials: Vec<&str> = if tls.credential_name.is_empty() {
        tls.credential_names.iter().map(String::as_str).collect()
    } else {
        vec![tls.credential_name.as_str()]
    };
    let mut common = CommonTlsContext {
        tls_params: params(tls),
        alpn_protocols: if http {
            ALPN_HTTP.iter().map(|p| p.to_string()).collect()
        } else {
            Vec::new()
        },
        ..CommonTlsContext::default()
    };
    let client_checks = CertificateValidationContext {
        match_typed_subject_alt_names: subject_alt_names(&tls.subject_alt_names),
        verify_certificate_spki: tls.verify_certificate_spki.clone(),
        verify_certificate_hash: tls.verify_certificate_hash.clone(),
        ..CertificateValidationContext::default()
    };
    if let Some(first) = credentials.first() {
        let files = set_fields(tls, &["serverCertificate", "privateKey", "caCertificates"]);
        if !files.is_empty() {
            notes.push(format!(
                "{} ignored: the certificates come from credentialName",
                files.join(", ")
            ));
        }
        common.tls_certificate_sds_secret_configs = credentials
            .iter()
            .map(|name| sds(secret_name(name)))
            .collect();
        if verifies_clients {
            // The first credential's CA verifies clients, as in Istio.
            let ca = format!("{}{SDS_CA_SUFFIX}", secret_name(first));
            common.validation_context_type =
                Some(ValidationContextType::CombinedValidationContext(
                    CombinedCertificateValidationContext {
                        default_validation_context: Some(client_checks),
                        validation_context_sds_secret_config: Some(sds(ca)),
                        ..CombinedCertificateValidationContext::default()
                    },
                ));
        }
    } else {
        if tls.server_certificate.is_empty() || tls.private_key.is_empty() {
            return Err(
                "terminating TLS needs serverCertificate and privateKey, or credentialName"
                    .to_string(),
            );
        }
        common.tls_certificates = vec![TlsCertificate {
            certificate_chain: Some(file(&tls.server_certificate)),
            private_key: Some(file(&tls.private_key)),
            ..TlsCertificate::default()
        }];
        if verifies_clients {
            if tls.ca_certificates.is_empty() {
                return Err(format!(
                    "tls mode {} needs caCertificates to verify clients, or credentialName",
                    mode_name(mode)
                ));
            }
            common.validation_context_type = Some(ValidationContextType::ValidationContext(
                CertificateValidationContext {
                    trusted_ca: Some(file(&tls.ca_certificates)),
                    crl: (!tls.ca_crl.is_empty()).then(|| file(&tls.ca_crl)),
                    ..client_checks
                },
            ));
        }
    }
    if !verifies_clients {
        let client_fields = set_fields(
            tls,
            &[
                "caCertificates",
                "subjectAltNames",
                "verifyCertificateSpki",
                "verifyCertificateHash",
            ],
        );
        // With credentialName, caCertificates is noted above already.
        let client_fields: Vec<&str> = client_fields
            .into_iter()
            .filter(|f| credentials.is_empty() || *f != "caCertificates")
            .collect();
        if !client_fields.is_empty() {
            notes.push(format!(
                "{} ignored: tls mode SIMPLE asks clients for no certificate",
                client_fields.join(", ")
            ));
        }
    }
    let context = DownstreamTlsContext {
        common_tls_context: Some(common),
        require_client_certificate: Some(BoolValue {
            value: mode == ServerTlsMode::Mutual,
        }),
        ..DownstreamTlsContext::default()
    };
    Ok(Termination {
        socket: TransportSocket {
            name: TLS_TRANSPORT_SOCKET.to_string(),
            config_type: Some(transport_socket::ConfigType::TypedConfig(pack_any(context))),
        },
        notes,
    })
}

/// Istio's name of a TLS mode.
pub(super) fn mode_name(mode: ServerTlsMode) -> &'static str {
    match mode {
        ServerTlsMode::Passthrough => "PASSTHROUGH",
        ServerTlsMode::Simple => "SIMPLE",
        ServerTlsMode::Mutual => "MUTUAL",
        ServerTlsMode::AutoPassthrough => "AUTO_PASSTHROUGH",
        ServerTlsMode::IstioMutual => "ISTIO_MUTUAL",
        ServerTlsMode::OptionalMutual => "OPTIONAL_MUTUAL",
    }
}

/// The SDS name of a credential: Istio's `kubernetes://` names, kept as they are when the
/// `credentialName` is written so already.
fn secret_name(credential: &str) -> String {
    if credential.starts_with(SDS_PREFIX) {
        credential.to_string()
    } else {
        format!("{SDS_PREFIX}{credential}")
    }
}

/// `tls_params` when the server sets versions or cipher suites. Suites validation does not
/// know are left out, as it warns.
fn params(tls: &ServerTlsSettings) -> Option<TlsParameters> {
    let cipher_suites: Vec<String> = tls
        .cipher_suites
        .iter()
        .filter(|s| {
            !s.starts_with(|c: char| c.is_ascii_alphanumeric())
                || *s == "ALL"
                || CIPHER_SUITES.contains(&s.as_str())
        })
        .cloned()
        .collect();
    let version = |v: Option<TlsProtocol>| v.map_or(EnvoyTlsProtocol::TlsAuto, protocol) as i32;
    let min = version(tls.min_protocol_version);
    let max = version(tls.max_protocol_version);
    let auto = EnvoyTlsProtocol::TlsAuto as i32;
    if min == auto && max == auto && cipher_suites.is_empty() {
        return None;
    }
    Some(TlsParameters {
        tls_minimum_protocol_version: min,
        tls_maximum_protocol_version: max,
        cipher_suites,
        ..TlsParameters::default()
    })
}

fn protocol(version: TlsProtocol) -> EnvoyTlsProtocol {
    match version {
        TlsProtocol::Auto => EnvoyTlsProtocol::TlsAuto,
        TlsProtocol::V1_0 => EnvoyTlsProtocol::TlSv10,
        TlsProtocol::V1_1 => EnvoyTlsProtocol::TlSv11,
        TlsProtocol::V1_2 => EnvoyTlsProtocol::TlSv12,
        TlsProtocol::V1_3 => EnvoyTlsProtocol::TlSv13,
    }
}

/// The names of the fields among `names` that the settings set, in that order.
fn set_fields<'a>(tls: &ServerTlsSettings, names: &[&'a str]) -> Vec<&'a str> {
    names
        .iter()
        .copied()
        .filter(|name| match *name {
            "serverCertificate" => !tls.server_certificate.is_empty(),
            "privateKey" => !tls.private_key.is_empty(),
            "caCertificates" => !tls.ca_certificates.is_empty(),
            "subjectAltNames" => !tls.subject_alt_names.is_empty(),
            "verifyCertificateSpki" => !tls.verify_certificate_spki.is_empty(),
            "verifyCertificateHash" => !tls.verify_certificate_hash.is_empty(),
            _ => false,
        })
        .collect()
}
