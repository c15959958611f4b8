//! What the SDS tests share: a TLS cluster whose secrets come over SDS, and the secrets.

#![allow(dead_code)] // Each test binary uses a different part.

use std::{net::SocketAddr, path::Path};

use envoy_types::pb::envoy::{
    config::cluster::v3::Cluster,
    extensions::transport_sockets::tls::v3::Secret,
    service::discovery::v3::{DeltaDiscoveryRequest, DiscoveryRequest},
};
use mesh_common::xds;
use mesh_xds::json::from_yaml;

use super::tls_support::{Pki, SERVER_NAME, UPSTREAM_TLS};

pub mod interop;

/// The STATIC cluster `backend` to `upstream` whose `common_tls_context` is `common` (YAML flow
/// entries).
pub fn backend(upstream: SocketAddr, common: &str) -> Cluster {
    backend_with(upstream, common, "")
}

/// As [`backend`], with `extra` (YAML flow entries, each after a comma) in the cluster.
pub fn backend_with(upstream: SocketAddr, common: &str, extra: &str) -> Cluster {
    from_yaml(&format!(
        r#"{{name: backend, type: STATIC, connect_timeout: 2s{extra}, load_assignment: {{cluster_name: backend, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {ip}, port_value: {port}}}}}}}}}]}}]}}, transport_socket: {{name: envoy.transport_sockets.tls, typed_config: {{"@type": {UPSTREAM_TLS}, sni: {SERVER_NAME}, common_tls_context: {{{common}}}}}}}}}"#,
        ip = upstream.ip(),
        port = upstream.port(),
    ))
    .unwrap()
}

pub const ADS: &str = "sds_config: {ads: {}, resource_api_version: V3}";

/// Trusts the SDS secret `ca`.
pub fn trusting_sds() -> String {
    format!("validation_context_sds_secret_config: {{name: ca, {ADS}}}")
}

/// The SDS secret `ca`: the PKI's file `file` as the trusted CA.
pub fn ca(pki: &Pki, file: &str) -> Secret {
    let pem = std::fs::read_to_string(pki.path(file)).unwrap();
    from_yaml(&format!(
        "{{name: ca, validation_context: {{trusted_ca: {{inline_string: {pem:?}}}}}}}"
    ))
    .unwrap()
}

/// The SDS secret `client`: the PKI's `cert` with its `key`.
pub fn client_cert(pki: &Pki, cert: &str, key: &str) -> Secret {
    tls_certificate("client", &pki.path(cert), &pki.path(key))
}

/// The SDS secret `name`: the certificate chain in file `cert` with the key in file `key`,
/// inlined.
pub fn tls_certificate(name: &str, cert: &Path, key: &Path) -> Secret {
    let read = |file: &Path| std::fs::read_to_string(file).unwrap();
    from_yaml(&format!(
        "{{name: {name}, tls_certificate: {{certificate_chain: {{inline_string: {:?}}}, \
         private_key: {{inline_string: {:?}}}}}}}",
        read(cert),
        read(key)
    ))
    .unwrap()
}

/// `(type, version, names, nonce, error)` of a state-of-the-world request.
#[allow(clippy::type_complexity)]
pub fn summary(r: &DiscoveryRequest) -> (&str, &str, Vec<&str>, &str, Option<&str>) {
    (
        xds::short_name(&r.type_url),
        r.version_info.as_str(),
        r.resource_names.iter().map(String::as_str).collect(),
        r.response_nonce.as_str(),
        r.error_detail.as_ref().map(|e| e.message.as_str()),
    )
}

/// `(type, nonce, subscribed, unsubscribed, error)` of a delta request.
#[allow(clippy::type_complexity)]
pub fn delta_summary(
    r: &DeltaDiscoveryRequest,
) -> (&str, &str, Vec<&str>, Vec<&str>, Option<&str>) {
    (
        xds::short_name(&r.type_url),
        r.response_nonce.as_str(),
        r.resource_names_subscribe
            .iter()
            .map(String::as_str)
            .collect(),
        r.resource_names_unsubscribe
            .iter()
            .map(String::as_str)
            .collect(),
        r.error_detail.as_ref().map(|e| e.message.as_str()),
    )
}
