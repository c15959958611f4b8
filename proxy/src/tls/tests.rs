//! What a TLS transport socket compiles to, and the exact errors of what it refuses.

use std::path::{Path, PathBuf};

use envoy_types::pb::{
    envoy::config::{
        cluster::v3::Cluster,
        core::v3::{TransportSocket, transport_socket::ConfigType},
    },
    google::protobuf::Any,
};
use mesh_xds::json::from_yaml;
use rcgen::{CertificateParams, KeyPair};

use crate::{bootstrap::Bootstrap, config::compile_cluster};

const TLS: &str =
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
const CTX: &str = "Cluster \"c\": transport_socket.typed_config";

/// A self-signed certificate for `a.example` and its key, as PEM.
pub(crate) fn self_signed() -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["a.example".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A `tls_certificates` entry that reads the files `cert` and `key`.
fn certificate(cert: &Path, key: &Path) -> String {
    format!("{{certificate_chain: {{filename: {cert:?}}}, private_key: {{filename: {key:?}}}}}")
}

/// Files in a temporary directory, for the TLS tests of clusters and listeners:
/// `cert.pem` a [`self_signed`] certificate, `key.pem` its key, `other.key` another key,
/// `text.pem` a file that is no PEM and `broken.pem` a PEM section that does not end.
pub(crate) struct Files(tempfile::TempDir);

impl Files {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        std::fs::write(dir.path().join("cert.pem"), cert).unwrap();
        std::fs::write(dir.path().join("key.pem"), key).unwrap();
        let other = KeyPair::generate().unwrap();
        std::fs::write(dir.path().join("other.key"), other.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("text.pem"), "just text\n").unwrap();
        std::fs::write(
            dir.path().join("broken.pem"),
            "-----BEGIN CERTIFICATE-----\nAAAA\n",
        )
        .unwrap();
        Self(dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// A `tls_certificates` entry with this directory's certificate and the key file `key`.
    pub(crate) fn certificate(&self, key: &str) -> String {
        certificate(&self.path("cert.pem"), &self.path(key))
    }
}

/// Compiles a cluster whose `UpstreamTlsContext` has the fields `tls` (YAML flow entries);
/// `Ok(fingerprint)` or the error's text.
fn compile(tls: &str) -> Result<u64, String> {
    let yaml = format!(
        "name: c\ntype: EDS\ntransport_socket: {{name: envoy.transport_sockets.tls, \
         typed_config: {{\"@type\": {TLS}, {tls}}}}}"
    );
    let cluster: Cluster = from_yaml(&yaml).unwrap();
    let config = compile_cluster(&cluster).map_err(|e| e.to_string())?;
    Ok(config.tls.unwrap().fingerprint())
}

fn trusting(path: &Path, more: &str) -> String {
    format!(
        "common_tls_context: {{validation_context: {{trusted_ca: {{filename: {path:?}}}{more}}}}}"
    )
}

#[test]
fn a_raw_buffer_socket_is_plaintext_and_other_sockets_are_refused() {
    let socket = |type_url: &str| Cluster {
        name: "c".to_owned(),
        transport_socket: Some(TransportSocket {
            name: "socket".to_owned(),
            config_type: Some(ConfigType::TypedConfig(Any {
                type_url: type_url.to_owned(),
                value: Vec::new(),
            })),
        }),
        ..Cluster::default()
    };
    let raw = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer";
    assert!(compile_cluster(&socket(raw)).unwrap().tls.is_none());
    let alts = "type.googleapis.com/envoy.extensions.transport_sockets.alts.v3.Alts";
    assert_eq!(
        compile_cluster(&socket(alts)).unwrap_err().to_string(),
        "Cluster \"c\": transport_socket.typed_config: transport socket \
         \"type.googleapis.com/envoy.extensions.transport_sockets.alts.v3.Alts\" is not \
         supported by mesh-proxy"
    );
}

#[test]
fn equal_settings_have_equal_fingerprints() {
    let files = Files::new();
    let ca = trusting(&files.path("cert.pem"), "");
    let a = compile(&format!("sni: a.example, {ca}")).unwrap();
    assert_eq!(compile(&format!("sni: a.example, {ca}")), Ok(a));
    assert_ne!(compile(&format!("sni: b.example, {ca}")), Ok(a));
    // The content read counts too: the same file name with another CA is another context.
    std::fs::copy(files.path("cert.pem"), files.path("ca.pem")).unwrap();
    let before = compile(&trusting(&files.path("ca.pem"), "")).unwrap();
    let other = Files::new();
    std::fs::copy(other.path("cert.pem"), files.path("ca.pem")).unwrap();
    assert_ne!(compile(&trusting(&files.path("ca.pem"), "")), Ok(before));
}

#[test]
fn unreadable_and_invalid_files_name_the_file_and_the_field() {
    let files = Files::new();
    let missing = files.path("missing.pem");
    assert_eq!(
        compile(&trusting(&missing, "")),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.trusted_ca.filename: cannot read \
             {missing:?}: No such file or directory (os error 2)"
        ))
    );
    assert_eq!(
        compile(&trusting(Path::new("/dev/zero"), "")),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.trusted_ca.filename: cannot read \
             \"/dev/zero\": not a regular file"
        ))
    );
    let text = files.path("text.pem");
    assert_eq!(
        compile(&trusting(&text, "")),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.trusted_ca.filename: file {text:?}: \
             no PEM certificate"
        ))
    );
    let broken = files.path("broken.pem");
    assert_eq!(
        compile(&trusting(&broken, "")),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.trusted_ca.filename: file {broken:?}: \
             invalid PEM: section end \"-----END CERTIFICATE-----\" missing"
        ))
    );
    let cert = files.path("cert.pem");
    let with_key = |key: &Path| {
        format!(
            "common_tls_context: {{tls_certificates: [{}]}}",
            certificate(&cert, key)
        )
    };
    assert_eq!(
        compile(&with_key(&cert)),
        Err(format!(
            "{CTX}.common_tls_context.tls_certificates[0].private_key.filename: file {cert:?}: \
             no PEM private key"
        ))
    );
    assert!(compile(&with_key(&files.path("key.pem"))).is_ok());
    assert_eq!(
        compile(&with_key(&files.path("other.key"))),
        Err(format!(
            "{CTX}.common_tls_context.tls_certificates[0].private_key: does not match the \
             certificate of certificate_chain"
        ))
    );
}

#[test]
fn inline_pem_is_read_from_the_config() {
    let files = Files::new();
    let pem = std::fs::read_to_string(files.path("cert.pem")).unwrap();
    let tls = format!(
        "common_tls_context: {{validation_context: {{trusted_ca: {{inline_string: {pem:?}}}}}}}"
    );
    assert!(compile(&tls).is_ok());
    assert_eq!(
        compile("common_tls_context: {validation_context: {trusted_ca: {inline_string: x}}}"),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.trusted_ca.inline_string: \
             inline_string: no PEM certificate"
        ))
    );
}

#[test]
fn unsupported_fields_are_refused_by_path() {
    let files = Files::new();
    let ca = files.path("cert.pem");
    for (tls, error) in [
        (
            "allow_renegotiation: true",
            "allow_renegotiation: not supported by mesh-proxy",
        ),
        (
            "auto_host_sni: true",
            "auto_host_sni: not supported by mesh-proxy",
        ),
        (
            "sni: \"not a name!\"",
            "sni: \"not a name!\" is not a server name: invalid dns name",
        ),
        (
            "common_tls_context: {tls_params: {tls_minimum_protocol_version: TLSv1_1}}",
            "common_tls_context.tls_params.tls_minimum_protocol_version: TLSv1_1 is not \
             supported by mesh-proxy",
        ),
        (
            "common_tls_context: {tls_params: {cipher_suites: [ECDHE-RSA-AES128-GCM-SHA256, \
             AES128-SHA]}}",
            "common_tls_context.tls_params.cipher_suites[1]: cipher suite \"AES128-SHA\" is not \
             supported by mesh-proxy",
        ),
        (
            "common_tls_context: {tls_params: {ecdh_curves: [X25519, P-521]}}",
            "common_tls_context.tls_params.ecdh_curves[1]: curve \"P-521\" is not supported by \
             mesh-proxy",
        ),
        (
            "common_tls_context: {tls_params: {tls_minimum_protocol_version: TLSv1_3, \
             tls_maximum_protocol_version: TLSv1_2}}",
            "common_tls_context.tls_params.tls_minimum_protocol_version: is above \
             tls_maximum_protocol_version",
        ),
        (
            "common_tls_context: {key_log: {path: /tmp/keys}}",
            "common_tls_context.key_log: not supported by mesh-proxy",
        ),
        (
            "common_tls_context: {tls_certificate_sds_secret_configs: [{name: default, \
             sds_config: {ads: {}}}]}",
            "common_tls_context.tls_certificate_sds_secret_configs[0].name: SDS secret \
             \"default\" is not resolved: secrets are resolved when a resource is applied",
        ),
        (
            "common_tls_context: {validation_context_sds_secret_config: {name: ROOTCA}}",
            "common_tls_context.validation_context_sds_secret_config.name: static secret \
             \"ROOTCA\" is not resolved: secrets are resolved when a resource is applied",
        ),
        (
            "common_tls_context: {validation_context: {match_typed_subject_alt_names: \
             [{san_type: DNS, matcher: {exact: a.example}}]}}",
            "common_tls_context.validation_context.match_typed_subject_alt_names: needs \
             trusted_ca: matching SANs of a certificate that is not verified is insecure",
        ),
    ] {
        assert_eq!(compile(tls), Err(format!("{CTX}.{error}")), "{tls}");
    }
    let more = ", match_typed_subject_alt_names: [{san_type: OTHER_NAME, matcher: {exact: x}}]";
    assert_eq!(
        compile(&trusting(&ca, more)),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.match_typed_subject_alt_names[0].\
             san_type: OTHER_NAME is not supported by mesh-proxy"
        ))
    );
    assert_eq!(
        compile(&trusting(&ca, ", allow_expired_certificate: true")),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.allow_expired_certificate: not \
             supported by mesh-proxy"
        ))
    );
}

#[test]
fn bootstrap_secrets_are_checked_and_names_must_resolve() {
    let files = Files::new();
    let cluster = |secret: &str| {
        format!(
            "static_resources:\n  clusters:\n  - {{name: c, type: STATIC, transport_socket: \
             {{name: tls, typed_config: {{\"@type\": {TLS}, common_tls_context: \
             {{validation_context_sds_secret_config: {{name: {secret}}}}}}}}}}}\n"
        )
    };
    let secrets = |ca: &Path| {
        format!(
            "  secrets:\n  - {{name: ca, validation_context: {{trusted_ca: {{filename: \
             {ca:?}}}}}}}\n"
        )
    };
    let parse = |yaml: String| {
        Bootstrap::parse(&yaml, Path::new("b.yaml"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        parse(cluster("ca") + &secrets(&files.path("cert.pem"))),
        Ok(())
    );
    assert_eq!(
        parse(cluster("nope") + &secrets(&files.path("cert.pem"))),
        Err(
            "bootstrap b.yaml: static_resources.clusters[0].transport_socket.typed_config.\
             common_tls_context.validation_context_sds_secret_config.name: no secret \"nope\" in \
             static_resources.secrets"
                .to_owned()
        )
    );
    let missing = files.path("missing.pem");
    assert_eq!(
        parse(cluster("ca") + &secrets(&missing)),
        Err(format!(
            "bootstrap b.yaml: static_resources.secrets[0].validation_context.trusted_ca.\
             filename: cannot read {missing:?}: No such file or directory (os error 2)"
        ))
    );
}

#[test]
fn environment_variables_are_read_as_data_sources() {
    let tls = |name: &str| {
        format!(
            "common_tls_context: {{validation_context: {{trusted_ca: {{environment_variable: \
             {name}}}}}}}"
        )
    };
    assert_eq!(
        compile(&tls("MESH_TEST_UNSET_VARIABLE")),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.trusted_ca.environment_variable: \
             environment variable \"MESH_TEST_UNSET_VARIABLE\": environment variable not found"
        ))
    );
    // Set in every test process, and no PEM.
    assert_eq!(
        compile(&tls("PATH")),
        Err(format!(
            "{CTX}.common_tls_context.validation_context.trusted_ca.environment_variable: \
             environment variable \"PATH\": no PEM certificate"
        ))
    );
}
