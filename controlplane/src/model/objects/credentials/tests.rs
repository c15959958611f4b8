use std::collections::BTreeMap;

use k8s_openapi::{ByteString, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use pretty_assertions::assert_eq;

use super::*;

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";

fn secret(kind: Option<&str>, data: &[(&str, &str)], string_data: &[(&str, &str)]) -> Secret {
    let data: BTreeMap<String, ByteString> = data
        .iter()
        .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
        .collect();
    let string_data: BTreeMap<String, String> = string_data
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Secret {
        metadata: ObjectMeta {
            name: Some("db".into()),
            namespace: Some("shop".into()),
            ..ObjectMeta::default()
        },
        type_: kind.map(str::to_string),
        data: (!data.is_empty()).then_some(data),
        string_data: (!string_data.is_empty()).then_some(string_data),
        ..Secret::default()
    }
}

fn pair(chain: &str, key: &str) -> Option<KeyPair> {
    Some(KeyPair {
        chain: chain.as_bytes().to_vec(),
        private_key: key.as_bytes().to_vec(),
    })
}

#[test]
fn reads_both_layouts_and_string_data() {
    let tls = secret(
        Some(TLS_TYPE),
        &[("tls.crt", CERT), ("tls.key", KEY), ("ca.crt", CA)],
        &[],
    );
    assert_eq!(
        read(&tls),
        Some(Ok(Credential {
            certificate: pair(CERT, KEY),
            ca: Some(CA.as_bytes().to_vec()),
        }))
    );
    let generic = secret(None, &[("cert", CERT)], &[("key", KEY)]);
    assert_eq!(
        read(&generic),
        Some(Ok(Credential {
            certificate: pair(CERT, KEY),
            ca: None,
        }))
    );
    let ca_only = secret(Some("Opaque"), &[("cacert", CA)], &[]);
    assert_eq!(
        read(&ca_only),
        Some(Ok(Credential {
            certificate: None,
            ca: Some(CA.as_bytes().to_vec()),
        }))
    );
    // stringData is written over data, as the API server does.
    let over = secret(None, &[("ca.crt", "stale")], &[("ca.crt", CA)]);
    assert_eq!(
        read(&over),
        Some(Ok(Credential {
            certificate: None,
            ca: Some(CA.as_bytes().to_vec()),
        }))
    );
}

#[test]
fn other_secrets_are_not_credentials() {
    let token = secret(
        Some("kubernetes.io/service-account-token"),
        &[("token", "x")],
        &[],
    );
    assert_eq!(read(&token), None);
    let opaque = secret(None, &[("password", "x")], &[]);
    assert_eq!(read(&opaque), None);
    let docker = secret(
        Some("kubernetes.io/dockerconfigjson"),
        &[("cert", CERT)],
        &[],
    );
    assert_eq!(read(&docker), None);
}

#[test]
fn malformed_credentials_say_why() {
    let cases = [
        (
            secret(Some(TLS_TYPE), &[("tls.crt", CERT)], &[]),
            "it has tls.crt but not tls.key",
        ),
        (
            secret(None, &[("key", KEY)], &[]),
            "it has key but not cert",
        ),
        (
            secret(None, &[("tls.crt", "not pem"), ("tls.key", KEY)], &[]),
            "tls.crt is not PEM (no \"-----BEGIN\" line)",
        ),
        (
            secret(None, &[("cacert", "")], &[("ca.crt", "garbage")]),
            "ca.crt is not PEM (no \"-----BEGIN\" line)",
        ),
        (
            secret(Some(TLS_TYPE), &[("other", CERT)], &[]),
            "a kubernetes.io/tls secret needs tls.crt and tls.key (or cert and key), or a CA in \
             ca.crt or cacert; it has none",
        ),
    ];
    for (secret, reason) in cases {
        let error = read(&secret).unwrap().unwrap_err();
        assert_eq!(error.to_string(), reason);
    }
}

#[test]
fn the_private_key_never_shows_in_debug() {
    let shown = format!("{:?}", pair(CERT, KEY).unwrap());
    assert_eq!(
        shown,
        format!(
            "KeyPair {{ chain: {} bytes, private_key: [redacted] }}",
            CERT.len()
        )
    );
}

#[test]
fn objects_keep_credentials_as_secrets_change() {
    let mut objects = Objects::default();
    let before = objects.credentials();
    let mut tls = secret(Some(TLS_TYPE), &[("tls.crt", CERT), ("tls.key", KEY)], &[]);
    assert!(objects.upsert(tls.clone()));
    let added = objects.credentials();
    assert_eq!(before.len(), 0);
    assert_eq!(added.len(), 1);
    assert_eq!(
        added.get("shop", "db"),
        Some(&Ok(Credential {
            certificate: pair(CERT, KEY),
            ca: None,
        }))
    );
    assert_eq!(
        before.changed_namespaces(&added),
        ["shop".to_string()].into()
    );

    // A change that leaves the credential as it was shares it.
    tls.metadata.labels = Some([("app".to_string(), "db".to_string())].into());
    assert!(objects.upsert(tls.clone()));
    assert!(std::sync::Arc::ptr_eq(&added, &objects.credentials()));

    tls.data = Some([("tls.crt".to_string(), ByteString(CERT.into()))].into());
    assert!(objects.upsert(tls));
    let broken = objects.credentials();
    let malformed: Vec<(String, String)> = broken
        .malformed()
        .map(|(key, error)| (format!("{}/{}", key.namespace, key.name), error.to_string()))
        .collect();
    assert_eq!(
        malformed,
        [(
            "shop/db".to_string(),
            "it has tls.crt but not tls.key".to_string()
        )]
    );

    assert!(objects.delete::<Secret>(&ObjectKey::new("shop", "db")));
    assert_eq!(objects.credentials().len(), 0);
    assert_eq!(added.len(), 1, "a snapshot's credentials do not change");
}
