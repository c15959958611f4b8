//! Resolving a `CommonTlsContext`'s secret references, and checking secrets from SDS.

use std::{collections::BTreeSet, sync::Arc};

use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{CommonTlsContext, Secret};
use mesh_common::path::FieldPath;
use mesh_xds::json::from_yaml;

use super::{DynamicSecret, DynamicSecrets, Resolution, referenced_secrets, resolve_common};
use crate::tls::{StaticSecrets, tests::self_signed as pem};

/// YAML-safe inline PEM.
fn inline(pem: &str) -> String {
    format!("{{inline_string: {pem:?}}}")
}

fn secret(yaml: &str) -> Secret {
    from_yaml(yaml).unwrap()
}

fn certificate_secret(name: &str, cert: &str, key: &str) -> Secret {
    secret(&format!(
        "{{name: {name}, tls_certificate: {{certificate_chain: {}, private_key: {}}}}}",
        inline(cert),
        inline(key)
    ))
}

fn ca_secret(name: &str, ca: &str) -> Secret {
    secret(&format!(
        "{{name: {name}, validation_context: {{trusted_ca: {}}}}}",
        inline(ca)
    ))
}

fn dynamic(secrets: &[Secret]) -> DynamicSecrets {
    secrets
        .iter()
        .map(|s| (s.name.clone(), Arc::new(DynamicSecret::check(s).unwrap())))
        .collect()
}

fn context(yaml: &str) -> CommonTlsContext {
    from_yaml(yaml).unwrap()
}

fn path() -> FieldPath {
    FieldPath::parse("common_tls_context")
}

fn names(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn text(e: crate::config_error::FieldError) -> String {
    format!("{}: {}", e.path, e.reason)
}

const ADS: &str = "sds_config: {ads: {}, resource_api_version: V3}";

#[test]
fn sds_references_resolve_to_the_secrets_received() {
    let (cert, key) = pem();
    let (ca, _) = pem();
    let secrets = dynamic(&[
        certificate_secret("client", &cert, &key),
        ca_secret("ca", &ca),
    ]);
    let c = context(&format!(
        "{{alpn_protocols: [h2], tls_certificate_sds_secret_configs: [{{name: client, {ADS}}}], \
         validation_context_sds_secret_config: {{name: ca, {ADS}}}}}"
    ));
    assert_eq!(referenced_secrets(&c), names(&["ca", "client"]));
    let expected = context(&format!(
        "{{alpn_protocols: [h2], tls_certificates: [{{certificate_chain: {}, private_key: {}}}], \
         validation_context: {{trusted_ca: {}}}}}",
        inline(&cert),
        inline(&key),
        inline(&ca)
    ));
    assert_eq!(
        resolve_common(&c, None, &secrets, &path()),
        Ok(Resolution::Resolved(expected))
    );
}

#[test]
fn a_combined_context_merges_the_secret_into_its_default() {
    let (ca, _) = pem();
    let secrets = dynamic(&[ca_secret("ca", &ca)]);
    let c = context(&format!(
        "{{combined_validation_context: {{default_validation_context: \
         {{match_typed_subject_alt_names: [{{san_type: DNS, matcher: {{exact: a.example}}}}]}}, \
         validation_context_sds_secret_config: {{name: ca, {ADS}}}}}}}"
    ));
    let expected = context(&format!(
        "{{validation_context: {{trusted_ca: {}, match_typed_subject_alt_names: \
         [{{san_type: DNS, matcher: {{exact: a.example}}}}]}}}}",
        inline(&ca)
    ));
    assert_eq!(
        resolve_common(&c, None, &secrets, &path()),
        Ok(Resolution::Resolved(expected))
    );
    // Missing, the validation is left out of the partial context: SAN matchers without the
    // secret's CA would not compile.
    let partial = context("{}");
    assert_eq!(
        resolve_common(&c, None, &DynamicSecrets::new(), &path()),
        Ok(Resolution::Missing {
            names: names(&["ca"]),
            partial,
        })
    );
}

#[test]
fn missing_secrets_are_named_and_left_out_of_the_partial_context() {
    let (ca, _) = pem();
    let secrets = dynamic(&[ca_secret("ca", &ca)]);
    let c = context(&format!(
        "{{tls_certificate_sds_secret_configs: [{{name: client, {ADS}}}], \
         validation_context_sds_secret_config: {{name: ca, {ADS}}}}}"
    ));
    let partial = context(&format!(
        "{{validation_context: {{trusted_ca: {}}}}}",
        inline(&ca)
    ));
    assert_eq!(
        resolve_common(&c, None, &secrets, &path()),
        Ok(Resolution::Missing {
            names: names(&["client"]),
            partial,
        })
    );
}

#[test]
fn static_references_resolve_against_static_secrets_when_given() {
    let (ca, _) = pem();
    let statics = StaticSecrets::compile(&[ca_secret("root", &ca)], &FieldPath::root()).unwrap();
    let c = context("{validation_context_sds_secret_config: {name: root}}");
    let expected = context(&format!(
        "{{validation_context: {{trusted_ca: {}}}}}",
        inline(&ca)
    ));
    let empty = DynamicSecrets::new();
    assert_eq!(
        resolve_common(&c, Some(&statics), &empty, &path()),
        Ok(Resolution::Resolved(expected))
    );
    // Without static secrets the reference stays, for compilation to refuse.
    assert_eq!(
        resolve_common(&c, None, &empty, &path()),
        Ok(Resolution::Resolved(c.clone()))
    );
    assert!(referenced_secrets(&c).is_empty());
    let unknown = context("{validation_context_sds_secret_config: {name: other}}");
    assert_eq!(
        text(resolve_common(&unknown, Some(&statics), &empty, &path()).unwrap_err()),
        "common_tls_context.validation_context_sds_secret_config.name: no secret \"other\" in \
         static_resources.secrets"
    );
}

#[test]
fn refusals_name_the_reference() {
    let (cert, key) = pem();
    let secrets = dynamic(&[certificate_secret("client", &cert, &key)]);
    for (yaml, error) in [
        (
            "{validation_context_sds_secret_config: {name: client, sds_config: {ads: {}}}}",
            "validation_context_sds_secret_config.name: SDS secret \"client\" is not a \
             validation_context",
        ),
        (
            "{validation_context_sds_secret_config: {name: ca, sds_config: {api_config_source: \
             {api_type: GRPC, grpc_services: [{envoy_grpc: {cluster_name: sds-grpc}}]}}}}",
            "validation_context_sds_secret_config.sds_config.api_config_source: mesh-proxy \
             fetches secrets over ADS only: use `ads: {}`",
        ),
        (
            "{tls_certificate_sds_secret_configs: [{name: a, sds_config: {self: {}}}]}",
            "tls_certificate_sds_secret_configs[0].sds_config.self: mesh-proxy fetches secrets \
             over ADS only: use `ads: {}`",
        ),
        (
            "{tls_certificate_sds_secret_configs: [{name: a, sds_config: {}}]}",
            "tls_certificate_sds_secret_configs[0].sds_config: mesh-proxy fetches secrets over \
             ADS only: use `ads: {}`",
        ),
        (
            "{tls_certificate_sds_secret_configs: [{name: a, sds_config: {ads: {}, \
             initial_fetch_timeout: 5s}}]}",
            "tls_certificate_sds_secret_configs[0].sds_config.initial_fetch_timeout: only 0s is \
             supported by mesh-proxy: a context waits for its secrets as long as they take",
        ),
        (
            "{tls_certificate_sds_secret_configs: [{name: a, sds_config: {ads: {}, \
             resource_api_version: V2}}]}",
            "tls_certificate_sds_secret_configs[0].sds_config.resource_api_version: must be V3",
        ),
        (
            "{tls_certificate_sds_secret_configs: [{name: \"\", sds_config: {ads: {}}}]}",
            "tls_certificate_sds_secret_configs[0].name: must not be empty",
        ),
    ] {
        assert_eq!(
            text(resolve_common(&context(yaml), None, &secrets, &path()).unwrap_err()),
            format!("common_tls_context.{error}"),
            "{yaml}"
        );
    }
    // A zero timeout is Istio's "wait as long as it takes".
    let zero = context(
        "{tls_certificate_sds_secret_configs: [{name: client, sds_config: {ads: {}, \
         initial_fetch_timeout: 0s}}]}",
    );
    assert!(matches!(
        resolve_common(&zero, None, &secrets, &path()),
        Ok(Resolution::Resolved(_))
    ));
}

#[test]
fn secrets_are_checked_when_they_arrive() {
    let (cert, key) = pem();
    let (_, other_key) = pem();
    let check = |s: &Secret| DynamicSecret::check(s).map(|_| ()).map_err(text);
    assert_eq!(check(&certificate_secret("ok", &cert, &key)), Ok(()));
    for (s, error) in [
        (
            certificate_secret("mismatch", &cert, &other_key),
            "tls_certificate.private_key: does not match the certificate of certificate_chain",
        ),
        (
            ca_secret("garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n"),
            "validation_context.trusted_ca.inline_string: inline_string: invalid PEM: section \
             end \"-----END CERTIFICATE-----\" missing",
        ),
        (
            secret("{name: tickets, session_ticket_keys: {keys: [{inline_string: k}]}}"),
            "session_ticket_keys: not supported by mesh-proxy",
        ),
        (
            secret("{name: generic, generic_secret: {secret: {inline_string: s}}}"),
            "generic_secret: not supported by mesh-proxy",
        ),
        (secret("{name: empty}"), "<root>: has no secret"),
    ] {
        assert_eq!(check(&s), Err(error.to_owned()), "{}", s.name);
    }
}

#[test]
fn equal_secrets_have_equal_digests() {
    let (ca, _) = pem();
    let (other, _) = pem();
    let digest = |s: &Secret| DynamicSecret::check(s).unwrap().digest();
    assert_eq!(digest(&ca_secret("ca", &ca)), digest(&ca_secret("ca", &ca)));
    assert_ne!(
        digest(&ca_secret("ca", &ca)),
        digest(&ca_secret("ca", &other))
    );
}
