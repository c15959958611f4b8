use envoy_types::pb::envoy::{
    config::{
        cluster::v3::Cluster,
        core::v3::{
            AggregatedConfigSource, ApiVersion, ConfigSource, config_source::ConfigSourceSpecifier,
        },
    },
    extensions::transport_sockets::tls::v3::{
        SdsSecretConfig, SubjectAltNameMatcher, subject_alt_name_matcher::SanType,
    },
    r#type::matcher::v3::{StringMatcher, string_matcher::MatchPattern},
};
use pretty_assertions::assert_eq;
use prost::Message;
use serde_json::json;

use super::*;
use crate::{
    mesh_config::MeshConfig,
    translate::{cluster::tests::web_sidecar_clusters, tls::SAN_TYPES},
};

fn settings(value: serde_json::Value) -> ClientTlsSettings {
    serde_json::from_value(value).unwrap()
}

/// The `UpstreamTlsContext` of an origination, or `None` when it is not TLS.
fn context(origination: &Origination) -> Option<UpstreamTlsContext> {
    let Origination::Tls(socket) = origination else {
        return None;
    };
    assert_eq!(socket.name, "envoy.transport_sockets.tls");
    let Some(transport_socket::ConfigType::TypedConfig(any)) = &socket.config_type else {
        panic!("no typed config: {socket:?}");
    };
    assert_eq!(
        any.type_url,
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
    );
    Some(UpstreamTlsContext::decode(any.value.as_slice()).unwrap())
}

fn exact(san_type: SanType, name: &str) -> SubjectAltNameMatcher {
    SubjectAltNameMatcher {
        san_type: san_type as i32,
        matcher: Some(StringMatcher {
            match_pattern: Some(MatchPattern::Exact(name.to_string())),
            ..StringMatcher::default()
        }),
        ..SubjectAltNameMatcher::default()
    }
}

#[test]
fn simple_verifies_the_server_with_the_ca_and_its_names() {
    let tls = settings(json!({
        "mode": "SIMPLE", "caCertificates": "/etc/certs/ca.pem",
        "subjectAltNames": ["api.example.com", "spiffe://example.com/api"],
        "sni": "api.example.com",
    }));
    let expected = UpstreamTlsContext {
        common_tls_context: Some(CommonTlsContext {
            validation_context_type: Some(ValidationContextType::ValidationContext(
                CertificateValidationContext {
                    trusted_ca: Some(file("/etc/certs/ca.pem")),
                    match_typed_subject_alt_names: vec![
                        exact(SanType::Dns, "api.example.com"),
                        exact(SanType::Uri, "api.example.com"),
                        exact(SanType::Email, "api.example.com"),
                        exact(SanType::IpAddress, "api.example.com"),
                        exact(SanType::Dns, "spiffe://example.com/api"),
                        exact(SanType::Uri, "spiffe://example.com/api"),
                        exact(SanType::Email, "spiffe://example.com/api"),
                        exact(SanType::IpAddress, "spiffe://example.com/api"),
                    ],
                    ..CertificateValidationContext::default()
                },
            )),
            ..CommonTlsContext::default()
        }),
        sni: "api.example.com".to_string(),
        ..UpstreamTlsContext::default()
    };
    assert_eq!(context(&origination(Some(&tls), false)), Some(expected));
}

#[test]
fn mutual_presents_the_client_certificate_and_offers_h2_on_http2_clusters() {
    let tls = settings(json!({
        "mode": "MUTUAL", "clientCertificate": "/etc/certs/cert.pem",
        "privateKey": "/etc/certs/key.pem", "caCertificates": "/etc/certs/ca.pem",
    }));
    let expected = CommonTlsContext {
        tls_certificates: vec![TlsCertificate {
            certificate_chain: Some(file("/etc/certs/cert.pem")),
            private_key: Some(file("/etc/certs/key.pem")),
            ..TlsCertificate::default()
        }],
        validation_context_type: Some(ValidationContextType::ValidationContext(
            CertificateValidationContext {
                trusted_ca: Some(file("/etc/certs/ca.pem")),
                ..CertificateValidationContext::default()
            },
        )),
        alpn_protocols: vec!["h2".to_string()],
        ..CommonTlsContext::default()
    };
    let h2 = context(&origination(Some(&tls), true)).unwrap();
    assert_eq!(h2.common_tls_context, Some(expected.clone()));
    assert_eq!(h2.sni, "");
    let http1 = context(&origination(Some(&tls), false)).unwrap();
    assert_eq!(
        http1.common_tls_context.unwrap().alpn_protocols,
        Vec::<String>::new()
    );
}

#[test]
fn insecure_skip_verify_accepts_any_server_certificate() {
    let tls = settings(json!({"mode": "SIMPLE", "insecureSkipVerify": true}));
    let common = context(&origination(Some(&tls), false))
        .unwrap()
        .common_tls_context
        .unwrap();
    assert_eq!(
        common.validation_context_type,
        Some(ValidationContextType::ValidationContext(
            CertificateValidationContext {
                trust_chain_verification: TrustChainVerification::AcceptUntrusted as i32,
                ..CertificateValidationContext::default()
            }
        ))
    );
    // Without a CA, nothing verifies the server, as in Envoy.
    let unverified = settings(json!({"mode": "SIMPLE", "sni": "db"}));
    let common = context(&origination(Some(&unverified), false))
        .unwrap()
        .common_tls_context
        .unwrap();
    assert_eq!(common, CommonTlsContext::default());
}

/// An SDS reference to `name` over the ADS stream.
fn ads_secret(name: &str) -> SdsSecretConfig {
    SdsSecretConfig {
        name: name.to_string(),
        sds_config: Some(ConfigSource {
            config_source_specifier: Some(ConfigSourceSpecifier::Ads(
                AggregatedConfigSource::default(),
            )),
            resource_api_version: ApiVersion::V3 as i32,
            ..ConfigSource::default()
        }),
    }
}

#[test]
fn simple_credential_name_verifies_with_the_secrets_ca_over_sds() {
    let tls = settings(json!({
        "mode": "SIMPLE", "credentialName": "db-ca", "sni": "db.example.com",
        "subjectAltNames": ["db.example.com"],
    }));
    let context = context(&origination(Some(&tls), true)).unwrap();
    assert_eq!(context.sni, "db.example.com");
    let common = context.common_tls_context.unwrap();
    assert_eq!(common.tls_certificate_sds_secret_configs, vec![]);
    assert_eq!(common.tls_certificates, vec![]);
    assert_eq!(common.alpn_protocols, vec!["h2".to_string()]);
    assert_eq!(
        common.validation_context_type,
        Some(ValidationContextType::CombinedValidationContext(
            CombinedCertificateValidationContext {
                default_validation_context: Some(CertificateValidationContext {
                    match_typed_subject_alt_names: SAN_TYPES
                        .map(|t| exact(t, "db.example.com"))
                        .to_vec(),
                    ..CertificateValidationContext::default()
                }),
                validation_context_sds_secret_config: Some(ads_secret("kubernetes://db-ca-cacert")),
                ..CombinedCertificateValidationContext::default()
            }
        ))
    );
}

#[test]
fn mutual_credential_name_sends_the_secrets_certificate_over_sds() {
    let tls = settings(json!({"mode": "MUTUAL", "credentialName": "db-client"}));
    let common = context(&origination(Some(&tls), false))
        .unwrap()
        .common_tls_context
        .unwrap();
    assert_eq!(
        common.tls_certificate_sds_secret_configs,
        vec![ads_secret("kubernetes://db-client")]
    );
    assert_eq!(common.tls_certificates, vec![]);
    assert_eq!(
        common.validation_context_type,
        Some(ValidationContextType::CombinedValidationContext(
            CombinedCertificateValidationContext {
                default_validation_context: Some(CertificateValidationContext::default()),
                validation_context_sds_secret_config: Some(ads_secret(
                    "kubernetes://db-client-cacert"
                )),
                ..CombinedCertificateValidationContext::default()
            }
        ))
    );
    // Told not to verify the server: no CA is asked for.
    let insecure = settings(json!({
        "mode": "MUTUAL", "credentialName": "db-client", "insecureSkipVerify": true,
    }));
    let common = context(&origination(Some(&insecure), false))
        .unwrap()
        .common_tls_context
        .unwrap();
    assert_eq!(
        common.tls_certificate_sds_secret_configs,
        vec![ads_secret("kubernetes://db-client")]
    );
    assert_eq!(
        common.validation_context_type,
        Some(ValidationContextType::ValidationContext(
            CertificateValidationContext {
                trust_chain_verification: TrustChainVerification::AcceptUntrusted as i32,
                ..CertificateValidationContext::default()
            }
        ))
    );
}

#[test]
fn plaintext_and_tls_that_cannot_be_originated_yet() {
    assert_eq!(origination(None, false), Origination::Plaintext);
    for (tls, expected) in [
        (json!({"mode": "DISABLE"}), Origination::Plaintext),
        (json!({"sni": "db"}), Origination::Plaintext),
        (json!({"mode": "ISTIO_MUTUAL"}), Origination::Unserved),
        (
            json!({"mode": "MUTUAL", "caCertificates": "/etc/certs/ca.pem"}),
            Origination::Unserved,
        ),
    ] {
        assert_eq!(
            origination(Some(&settings(tls.clone())), false),
            expected,
            "{tls}"
        );
    }
}

/// web's clusters with their TLS: the SNI they send, or `plaintext`, or `held back`.
fn tls_of(clusters: Vec<Cluster>) -> Vec<(String, String)> {
    clusters
        .into_iter()
        .map(|c| {
            let name = c
                .name
                .trim_end_matches("web.shop.svc.cluster.local")
                .to_string();
            let tls = match (&c.transport_socket, &c.eds_cluster_config) {
                (Some(socket), _) => {
                    let origination = Origination::Tls(Box::new(socket.clone()));
                    format!("sni {:?}", context(&origination).unwrap().sni)
                }
                (None, Some(_)) => "plaintext".to_string(),
                (None, None) => {
                    let endpoints = c.load_assignment.map(|l| l.endpoints.len());
                    format!("held back, endpoints {endpoints:?}")
                }
            };
            (name, tls)
        })
        .collect()
}

/// Istio's precedence: a port's settings replace the rule's, a subset's `tls` replaces the
/// rule's (and the port's), and a subset's port settings replace everything.
#[test]
fn tls_follows_subset_port_rule_precedence() {
    let ports = json!([
        {"number": 8080, "name": "http", "protocol": "HTTP"},
        {"number": 9090, "name": "tcp", "protocol": "TCP"},
    ]);
    let rule = json!({
        "host": "web.shop.svc.cluster.local",
        "trafficPolicy": {
            "tls": {"mode": "SIMPLE", "sni": "rule"},
            "portLevelSettings": [{"port": {"number": 9090}, "tls": {"mode": "SIMPLE", "sni": "port"}}],
        },
        "subsets": [
            {"name": "v1", "labels": {"version": "v1"},
             "trafficPolicy": {"tls": {"mode": "SIMPLE", "sni": "v1"}}},
            {"name": "v2", "labels": {"version": "v2"},
             "trafficPolicy": {
                "loadBalancer": {"simple": "RANDOM"},
                "portLevelSettings": [{"port": {"number": 8080}, "tls": {"mode": "DISABLE"}}]}},
            {"name": "v3", "labels": {"version": "v3"},
             "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}},
        ],
    });
    let mut clusters = tls_of(web_sidecar_clusters(&MeshConfig::default(), ports, rule));
    clusters.sort();
    let row = |name: &str, tls: &str| (name.to_string(), tls.to_string());
    assert_eq!(
        clusters,
        [
            row("outbound|8080|v1|", "sni \"v1\""),
            // The subset's port settings replace the whole policy there: no TLS.
            row("outbound|8080|v2|", "plaintext"),
            row("outbound|8080|v3|", "held back, endpoints Some(0)"),
            row("outbound|8080||", "sni \"rule\""),
            row("outbound|9090|v1|", "sni \"v1\""),
            // The subset sets no TLS: the port's applies.
            row("outbound|9090|v2|", "sni \"port\""),
            row("outbound|9090|v3|", "held back, endpoints Some(0)"),
            row("outbound|9090||", "sni \"port\""),
        ]
    );
}
