//! Servers that terminate TLS: their chain's SNI match and `DownstreamTlsContext`, and the
//! route configuration of each HTTPS server.

use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{
                AggregatedConfigSource, ApiVersion, ConfigSource, DataSource,
                config_source::ConfigSourceSpecifier, data_source::Specifier, transport_socket,
            },
            listener::v3::{FilterChain, Listener, filter::ConfigType},
        },
        extensions::{
            filters::network::http_connection_manager::v3::{
                HttpConnectionManager, http_connection_manager::RouteSpecifier,
            },
            transport_sockets::tls::v3::{
                CertificateValidationContext, CommonTlsContext, DownstreamTlsContext,
                SdsSecretConfig, SubjectAltNameMatcher, TlsCertificate, TlsParameters,
                common_tls_context::{CombinedCertificateValidationContext, ValidationContextType},
                subject_alt_name_matcher::SanType,
                tls_parameters::TlsProtocol,
            },
        },
        r#type::matcher::v3::{StringMatcher, string_matcher::MatchPattern},
    },
    google::protobuf::BoolValue,
};
use pretty_assertions::assert_eq;
use prost::Message;

use super::*;
use crate::translate::gateway::tls::server_names;

pub(super) fn context(chain: &FilterChain) -> DownstreamTlsContext {
    let socket = chain.transport_socket.as_ref().unwrap();
    assert_eq!(socket.name, "envoy.transport_sockets.tls");
    let Some(transport_socket::ConfigType::TypedConfig(any)) = &socket.config_type else {
        panic!("no typed config");
    };
    assert_eq!(
        any.type_url,
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
    );
    DownstreamTlsContext::decode(any.value.as_slice()).unwrap()
}

pub(super) fn filter_names(chain: &FilterChain) -> Vec<&str> {
    chain.filters.iter().map(|f| f.name.as_str()).collect()
}

pub(super) fn sni(listener: &Listener) -> Vec<Vec<String>> {
    listener
        .filter_chains
        .iter()
        .map(|c| c.filter_chain_match.clone().unwrap().server_names)
        .collect()
}

fn rds_name(chain: &FilterChain) -> String {
    let Some(ConfigType::TypedConfig(any)) = &chain.filters[0].config_type else {
        panic!("no typed config");
    };
    let manager = HttpConnectionManager::decode(any.value.as_slice()).unwrap();
    match manager.route_specifier {
        Some(RouteSpecifier::Rds(rds)) => rds.route_config_name,
        other => panic!("{other:?}"),
    }
}

fn file(path: &str) -> Option<DataSource> {
    Some(DataSource {
        specifier: Some(Specifier::Filename(path.to_string())),
        ..DataSource::default()
    })
}

pub(super) fn sds(name: &str) -> SdsSecretConfig {
    SdsSecretConfig {
        name: name.to_string(),
        sds_config: Some(ConfigSource {
            config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
            resource_api_version: ApiVersion::V3 as i32,
            ..ConfigSource::default()
        }),
    }
}

fn alpn_http() -> Vec<String> {
    vec!["h2".to_string(), "http/1.1".to_string()]
}

#[test]
fn server_names_are_the_hosts_without_namespace_and_star_matches_all() {
    let hosts = |h: &[&str]| -> Vec<String> { h.iter().map(|h| h.to_string()).collect() };
    assert_eq!(
        server_names(&hosts(&[
            "shop.example.com",
            "prod/*.example.org",
            "./shop.example.com"
        ])),
        vec!["*.example.org".to_string(), "shop.example.com".to_string()]
    );
    assert_eq!(
        server_names(&hosts(&["shop.example.com", "*/*"])),
        Vec::<String>::new()
    );
}

const SIMPLE_FILES: &str = r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: web, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [shop.example.com, "./*.shop.example.org"]
    tls:
      mode: SIMPLE
      serverCertificate: /etc/certs/shop.pem
      privateKey: /etc/certs/shop-key.pem
      minProtocolVersion: TLSV1_2
      cipherSuites: [ECDHE-RSA-AES128-GCM-SHA256, NOT-A-SUITE]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: istio-system}
spec:
  hosts: [shop.example.com]
  gateways: [web]
  http:
  - route:
    - destination: {host: shop.example.com}
"#;

#[test]
fn a_simple_https_server_with_files_terminates_tls_for_its_hosts() {
    let snapshot = snapshot(SIMPLE_FILES);
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(resources.listeners.len(), 1);
    let listener = &resources.listeners[0];
    assert_eq!(listener.name, "0.0.0.0_443");
    let inspectors: Vec<&str> = listener
        .listener_filters
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(inspectors, ["envoy.filters.listener.tls_inspector"]);
    assert_eq!(
        sni(listener),
        vec![vec![
            "*.shop.example.org".to_string(),
            "shop.example.com".to_string()
        ]]
    );
    let chain = &listener.filter_chains[0];
    assert_eq!(
        filter_names(chain),
        ["envoy.filters.network.http_connection_manager"]
    );
    assert_eq!(rds_name(chain), "https.443.https.web.istio-system");
    assert_eq!(
        context(chain),
        DownstreamTlsContext {
            common_tls_context: Some(CommonTlsContext {
                tls_params: Some(TlsParameters {
                    tls_minimum_protocol_version: TlsProtocol::TlSv12 as i32,
                    tls_maximum_protocol_version: TlsProtocol::TlsAuto as i32,
                    cipher_suites: vec!["ECDHE-RSA-AES128-GCM-SHA256".to_string()],
                    ..TlsParameters::default()
                }),
                tls_certificates: vec![TlsCertificate {
                    certificate_chain: file("/etc/certs/shop.pem"),
                    private_key: file("/etc/certs/shop-key.pem"),
                    ..TlsCertificate::default()
                }],
                alpn_protocols: alpn_http(),
                ..CommonTlsContext::default()
            }),
            require_client_certificate: Some(BoolValue { value: false }),
            ..DownstreamTlsContext::default()
        }
    );
    // The server's own route configuration, with the hosts a VirtualService binds.
    let routes: Vec<(&str, Vec<&str>)> = resources
        .routes
        .iter()
        .map(|r| {
            let hosts = r.virtual_hosts.iter().map(|v| v.name.as_str()).collect();
            (r.name.as_str(), hosts)
        })
        .collect();
    assert_eq!(
        routes,
        [(
            "https.443.https.web.istio-system",
            vec!["shop.example.com:443"]
        )]
    );
    let clusters: Vec<&str> = resources.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        clusters,
        Vec::<&str>::new(),
        "shop.example.com is no service"
    );
}

#[test]
fn a_mutual_server_with_a_credential_fetches_certificate_and_ca_over_sds() {
    let snapshot = snapshot(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: api, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8443, name: https-api, protocol: HTTPS}
    hosts: ["*"]
    tls:
      mode: MUTUAL
      credentialName: api-cert
      subjectAltNames: [client.example.com]
      verifyCertificateHash: ["df6ff72fe9116521268f6f2dd4966f51df479883fe7037b39f75916ac3049d1a"]
      maxProtocolVersion: TLSV1_3
"#,
    );
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(warnings, Vec::<String>::new());
    let listener = &resources.listeners[0];
    assert_eq!(sni(listener), vec![Vec::<String>::new()]);
    let chain = &listener.filter_chains[0];
    assert_eq!(rds_name(chain), "https.8443.https-api.api.istio-system");
    let san = |san_type: SanType| SubjectAltNameMatcher {
        san_type: san_type as i32,
        matcher: Some(StringMatcher {
            match_pattern: Some(MatchPattern::Exact("client.example.com".to_string())),
            ..StringMatcher::default()
        }),
        ..SubjectAltNameMatcher::default()
    };
    assert_eq!(
        context(chain),
        DownstreamTlsContext {
            common_tls_context: Some(CommonTlsContext {
                tls_params: Some(TlsParameters {
                    tls_minimum_protocol_version: TlsProtocol::TlsAuto as i32,
                    tls_maximum_protocol_version: TlsProtocol::TlSv13 as i32,
                    ..TlsParameters::default()
                }),
                tls_certificate_sds_secret_configs: vec![sds("kubernetes://api-cert")],
                validation_context_type: Some(ValidationContextType::CombinedValidationContext(
                    CombinedCertificateValidationContext {
                        default_validation_context: Some(CertificateValidationContext {
                            match_typed_subject_alt_names: vec![
                                san(SanType::Dns),
                                san(SanType::Uri),
                                san(SanType::Email),
                                san(SanType::IpAddress),
                            ],
                            verify_certificate_hash: vec![
                                "df6ff72fe9116521268f6f2dd4966f51df479883fe7037b39f75916ac3049d1a"
                                    .to_string()
                            ],
                            ..CertificateValidationContext::default()
                        }),
                        validation_context_sds_secret_config: Some(sds(
                            "kubernetes://api-cert-cacert"
                        )),
                        ..CombinedCertificateValidationContext::default()
                    }
                )),
                alpn_protocols: alpn_http(),
                ..CommonTlsContext::default()
            }),
            require_client_certificate: Some(BoolValue { value: true }),
            ..DownstreamTlsContext::default()
        }
    );
    // No VirtualService: the server's routes answer 404 from an empty host.
    assert_eq!(resources.routes[0].virtual_hosts[0].name, "blackhole:8443");
}

#[test]
fn optional_mutual_with_files_verifies_clients_that_present_a_certificate() {
    let snapshot = snapshot(
        r#"
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: api, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [api.example.com]
    tls:
      mode: OPTIONAL_MUTUAL
      serverCertificate: /certs/api.pem
      privateKey: /certs/api-key.pem
      caCertificates: /certs/clients-ca.pem
      caCrl: /certs/clients.crl
"#,
    );
    let (resources, warnings) = translate(&snapshot, &ingress());
    assert_eq!(warnings, Vec::<String>::new());
    let context = context(&resources.listeners[0].filter_chains[0]);
    assert_eq!(
        context.require_client_certificate,
        Some(BoolValue { value: false })
    );
    let common = context.common_tls_context.unwrap();
    assert_eq!(
        common.validation_context_type,
        Some(ValidationContextType::ValidationContext(
            CertificateValidationContext {
                trusted_ca: file("/certs/clients-ca.pem"),
                crl: file("/certs/clients.crl"),
                ..CertificateValidationContext::default()
            }
        ))
    );
    assert_eq!(common.tls_params, None);
}
