//! What a filter chain's `DownstreamTlsContext` compiles to, and the exact refusals.

use std::{path::Path, time::Duration};

use envoy_types::pb::{
    envoy::config::{core::v3::transport_socket::ConfigType, listener::v3::Listener},
    google::protobuf::Any,
};
use mesh_xds::json::from_yaml;

use crate::{
    bootstrap::Bootstrap,
    config::{ListenerConfig, compile_listener},
    tls::tests::Files,
};

const TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext";
const TCP: &str = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy";
const CTX: &str = "Listener \"l\": filter_chains[0].transport_socket.typed_config";

/// A listener whose one TCP chain has the `transport_socket` `socket` (a YAML flow mapping)
/// and the chain fields `more`.
fn with_socket(socket: &str, more: &str) -> Listener {
    from_yaml(&format!(
        "name: l\naddress: {{socket_address: {{address: 0.0.0.0, port_value: 443}}}}\n\
         filter_chains: [{{transport_socket: {socket}, {more} filters: [{{name: t, \
         typed_config: {{'@type': {TCP}, stat_prefix: s, cluster: c}}}}]}}]"
    ))
    .unwrap()
}

/// Compiles a listener whose chain has a `DownstreamTlsContext` with the fields `tls`.
fn compile(tls: &str) -> Result<ListenerConfig, String> {
    let socket =
        format!("{{name: envoy.transport_sockets.tls, typed_config: {{'@type': {TLS}, {tls}}}}}");
    compile_listener(&with_socket(&socket, "")).map_err(|e| e.to_string())
}

#[test]
fn a_served_context_terminates_tls_with_its_handshake_timeout() {
    let files = Files::new();
    let tls = format!(
        "{{name: envoy.transport_sockets.tls, typed_config: {{'@type': {TLS}, \
         require_client_certificate: true, require_sni: true, prefer_client_ciphers: true, \
         disable_stateless_session_resumption: true, full_scan_certs_on_sni_mismatch: true, \
         common_tls_context: {{tls_certificates: [{}], alpn_protocols: [h2, http/1.1], \
         tls_params: {{tls_minimum_protocol_version: TLSv1_2, cipher_suites: \
         [ECDHE-ECDSA-AES128-GCM-SHA256]}}, validation_context: {{trusted_ca: {{filename: \
         {:?}}}, match_typed_subject_alt_names: [{{san_type: URI, matcher: {{prefix: \
         'spiffe://cluster.local/'}}}}]}}}}}}}}",
        files.certificate("key.pem"),
        files.path("cert.pem"),
    );
    let config =
        compile_listener(&with_socket(&tls, "transport_socket_connect_timeout: 3s,")).unwrap();
    let chain_tls = config.filter_chains[0].tls.as_ref().unwrap();
    assert_eq!(chain_tls.handshake_timeout, Some(Duration::from_secs(3)));
    // The same content makes the same fingerprint; other options another one.
    let again = compile_listener(&with_socket(&tls, "")).unwrap();
    let again = again.filter_chains[0].tls.as_ref().unwrap();
    assert_eq!(again.server.fingerprint(), chain_tls.server.fingerprint());
    assert_eq!(again.handshake_timeout, None);
    let plain = compile(&format!(
        "common_tls_context: {{tls_certificates: [{}]}}",
        files.certificate("key.pem")
    ))
    .unwrap();
    let plain = plain.filter_chains[0].tls.as_ref().unwrap();
    assert_ne!(plain.server.fingerprint(), chain_tls.server.fingerprint());
}

#[test]
fn refusals_name_the_field() {
    let files = Files::new();
    let cert = files.certificate("key.pem");
    let with_cert =
        |fields: &str| format!("{fields}, common_tls_context: {{tls_certificates: [{cert}]}}");
    let missing = format!(
        "{CTX}.common_tls_context.tls_certificates: is required: a TLS server presents a \
         certificate"
    );
    let cases = [
        ("common_tls_context: {}".to_owned(), missing.clone()),
        ("require_client_certificate: false".to_owned(), missing),
        (
            format!("common_tls_context: {{tls_certificates: [{cert}, {cert}]}}"),
            format!(
                "{CTX}.common_tls_context.tls_certificates[1]: only one certificate is supported \
                 in this context"
            ),
        ),
        (
            format!(
                "common_tls_context: {{tls_certificates: [{}]}}",
                files.certificate("other.key")
            ),
            format!(
                "{CTX}.common_tls_context.tls_certificates[0].private_key: does not match the \
                 certificate of certificate_chain"
            ),
        ),
        (
            with_cert("session_ticket_keys: {keys: [{inline_string: x}]}"),
            format!("{CTX}.session_ticket_keys: not supported by mesh-proxy"),
        ),
        (
            with_cert("session_ticket_keys_sds_secret_config: {name: keys}"),
            format!("{CTX}.session_ticket_keys_sds_secret_config: not supported by mesh-proxy"),
        ),
        (
            with_cert("session_timeout: 60s"),
            format!("{CTX}.session_timeout: not supported by mesh-proxy"),
        ),
        (
            with_cert("ocsp_staple_policy: MUST_STAPLE"),
            format!(
                "{CTX}.ocsp_staple_policy: MUST_STAPLE is not supported by mesh-proxy: it staples \
                 no OCSP response"
            ),
        ),
        (
            "common_tls_context: {tls_certificate_sds_secret_configs: [{name: default, \
             sds_config: {ads: {}}}]}"
                .to_owned(),
            format!(
                "{CTX}.common_tls_context.tls_certificate_sds_secret_configs[0].name: SDS secret \
                 \"default\" is not resolved: secrets are resolved when a resource is applied"
            ),
        ),
        (
            format!(
                "common_tls_context: {{tls_certificates: [{cert}], tls_params: \
                 {{tls_minimum_protocol_version: TLSv1_1}}}}"
            ),
            format!(
                "{CTX}.common_tls_context.tls_params.tls_minimum_protocol_version: TLSv1_1 is not \
                 supported by mesh-proxy"
            ),
        ),
    ];
    for (tls, expected) in cases {
        assert_eq!(compile(&tls).map(|_| ()), Err(expected), "{tls}");
    }
}

/// A listener whose chain's `transport_socket` holds an empty `type_url` message, or none.
fn with_type(type_url: Option<&str>) -> Result<ListenerConfig, String> {
    let mut l = with_socket("{name: tls}", "");
    let socket = l.filter_chains[0].transport_socket.as_mut().unwrap();
    socket.config_type = type_url.map(|url| {
        ConfigType::TypedConfig(Any {
            type_url: url.to_owned(),
            value: Vec::new(),
        })
    });
    compile_listener(&l).map_err(|e| e.to_string())
}

#[test]
fn raw_buffer_is_plaintext_and_other_sockets_are_refused() {
    let raw = with_type(Some(
        "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer",
    ));
    assert!(raw.unwrap().filter_chains[0].tls.is_none());
    let alts = "type.googleapis.com/envoy.extensions.transport_sockets.alts.v3.Alts";
    assert_eq!(
        with_type(Some(alts)).map(|_| ()),
        Err(format!(
            "{CTX}: transport socket \"{alts}\" is not supported by mesh-proxy"
        ))
    );
    assert_eq!(
        with_type(None).map(|_| ()),
        Err(format!("{CTX}: is required"))
    );
}

#[test]
fn static_listeners_get_the_bootstrap_secrets_they_name() {
    let files = Files::new();
    let bootstrap = |name: &str| {
        format!(
            "static_resources:\n  secrets: [{{name: server, tls_certificate: {}}}]\n  \
             listeners: [{{name: l, address: {{socket_address: {{address: 127.0.0.1, \
             port_value: 443}}}}, filter_chains: [{{transport_socket: {{name: tls, \
             typed_config: {{'@type': {TLS}, common_tls_context: \
             {{tls_certificate_sds_secret_configs: [{{name: {name}}}]}}}}}}, filters: \
             [{{name: t, typed_config: {{'@type': {TCP}, stat_prefix: s, cluster: c}}}}]}}]}}]\n  \
             clusters: [{{name: c, type: STATIC, load_assignment: {{cluster_name: c}}}}]\n",
            files.certificate("key.pem")
        )
    };
    let parsed = Bootstrap::parse(&bootstrap("server"), Path::new("b.yaml")).unwrap();
    let listener = &parsed.static_snapshot.listeners["l"];
    assert!(listener.filter_chains[0].tls.is_some());
    assert_eq!(
        Bootstrap::parse(&bootstrap("nope"), Path::new("b.yaml"))
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Err(
            "bootstrap b.yaml: static_resources.listeners[0].filter_chains[0].transport_socket.\
             typed_config.common_tls_context.tls_certificate_sds_secret_configs[0].name: no \
             secret \"nope\" in static_resources.secrets"
                .to_owned()
        )
    );
}
