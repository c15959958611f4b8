use crate::{
    config::{
        NetworkFilter,
        compile::tests::{error_text, http_listener},
        compile_listener,
    },
    http::{CertDetails, ClientCertConfig, ForwardClientCert},
};

fn listener(fields: &str) -> envoy_types::pb::envoy::config::listener::v3::Listener {
    http_listener("l", 80, "r", &format!("          {fields}"))
}

/// The compiled connection manager's XFCC configuration, for HCM `fields` (one YAML line).
fn compiled(fields: &str) -> ClientCertConfig {
    let config = compile_listener(&listener(fields)).unwrap();
    let NetworkFilter::Http(hcm) = &config.filter_chains[0].filter else {
        panic!("not HTTP");
    };
    hcm.client_cert
}

#[test]
fn istio_s_inbound_configuration_is_read_as_given() {
    assert_eq!(
        compiled(
            "forward_client_cert_details: APPEND_FORWARD\n          \
             set_current_client_cert_details: {subject: true, dns: true, uri: true}"
        ),
        ClientCertConfig {
            forward: ForwardClientCert::AppendForward,
            details: CertDetails {
                subject: true,
                dns: true,
                uri: true,
                ..CertDetails::default()
            },
        }
    );
}

#[test]
fn every_mode_and_detail_is_honoured() {
    assert_eq!(
        compiled("generate_request_id: true"),
        ClientCertConfig::default()
    );
    for (name, mode) in [
        ("SANITIZE", ForwardClientCert::Sanitize),
        ("FORWARD_ONLY", ForwardClientCert::ForwardOnly),
        ("APPEND_FORWARD", ForwardClientCert::AppendForward),
        ("SANITIZE_SET", ForwardClientCert::SanitizeSet),
        ("ALWAYS_FORWARD_ONLY", ForwardClientCert::AlwaysForwardOnly),
    ] {
        let config = compiled(&format!(
            "forward_client_cert_details: {name}\n          \
             set_current_client_cert_details: {{cert: true, chain: true, subject: false}}"
        ));
        assert_eq!(config.forward, mode, "{name}");
        assert_eq!(
            config.details,
            CertDetails {
                cert: true,
                chain: true,
                ..CertDetails::default()
            },
            "{name}"
        );
    }
}

#[test]
fn an_unknown_mode_is_refused_with_its_path() {
    assert_eq!(
        error_text(compile_listener(&listener(
            "forward_client_cert_details: 9"
        ))),
        "Listener \"l\": filter_chains[0].filters[0].typed_config.forward_client_cert_details: \
         unknown value 9"
    );
}
