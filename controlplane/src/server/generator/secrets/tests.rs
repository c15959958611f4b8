use base64::Engine;
use k8s_openapi::{
    ByteString, api::core::v1::Secret as KubeSecret, apimachinery::pkg::apis::meta::v1::ObjectMeta,
};
use pretty_assertions::assert_eq;

use super::*;
use crate::{mesh_config::MeshConfig, model::Objects, xds::Reach, xds::Target};

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
const OTHER_CA: &str = "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n";
const NODE: &str = "router~198.18.0.9~gateway-1.shop~shop.svc.cluster.local";

fn kube_secret(namespace: &str, name: &str, data: &[(&str, &str)]) -> KubeSecret {
    KubeSecret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..KubeSecret::default()
    }
}

fn snapshot(secrets: Vec<KubeSecret>) -> Snapshot {
    let mut objects = Objects::default();
    for secret in secrets {
        objects.upsert(secret);
    }
    Snapshot::build(&objects, &MeshConfig::default())
}

fn names(names: &[&str]) -> Subscription {
    Subscription::Names(names.iter().map(|n| n.to_string()).collect())
}

fn decoded(encoded: &[Arc<Encoded>]) -> Vec<Secret> {
    encoded
        .iter()
        .map(|e| match Resource::decode_any(&e.any()).unwrap() {
            Resource::Secret(secret) => *secret,
            other => panic!("not a secret: {other:?}"),
        })
        .collect()
}

fn certificate(name: &str, chain: &str, key: &str) -> Secret {
    Secret {
        name: name.to_string(),
        r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
            certificate_chain: Some(inline(chain.as_bytes())),
            private_key: Some(inline(key.as_bytes())),
            ..TlsCertificate::default()
        })),
    }
}

fn validation(name: &str, ca: &str) -> Secret {
    Secret {
        name: name.to_string(),
        r#type: Some(secret::Type::ValidationContext(
            CertificateValidationContext {
                trusted_ca: Some(inline(ca.as_bytes())),
                ..CertificateValidationContext::default()
            },
        )),
    }
}

fn tls(namespace: &str, name: &str, ca: Option<&str>) -> KubeSecret {
    let mut data = vec![("tls.crt", CERT), ("tls.key", KEY)];
    data.extend(ca.map(|ca| ("ca.crt", ca)));
    kube_secret(namespace, name, &data)
}

#[test]
fn serves_certificates_and_cas_of_the_proxys_namespace() {
    let snapshot = snapshot(vec![
        tls("shop", "web", Some(CA)),
        tls("shop", "api", None),
        kube_secret("shop", "api-cacert", &[("cacert", OTHER_CA)]),
    ]);
    let served = Served::default();
    let subscription = names(&[
        "kubernetes://web",
        "kubernetes://web-cacert",
        "kubernetes://api",
        "kubernetes://shop/api-cacert",
    ]);
    let secrets = served.generate(&snapshot, NODE, Some("shop"), &subscription);
    assert_eq!(
        decoded(&secrets),
        vec![
            certificate("kubernetes://api", CERT, KEY),
            validation("kubernetes://shop/api-cacert", OTHER_CA),
            certificate("kubernetes://web", CERT, KEY),
            validation("kubernetes://web-cacert", CA),
        ]
    );
    assert_eq!(served.report(), json!([]));
}

#[test]
fn a_secret_holding_its_own_ca_wins_over_the_cacert_secret() {
    let snapshot = snapshot(vec![
        tls("shop", "web", Some(CA)),
        kube_secret("shop", "web-cacert", &[("ca.crt", OTHER_CA)]),
    ]);
    let served = Served::default();
    let secrets = served.generate(
        &snapshot,
        NODE,
        Some("shop"),
        &names(&["kubernetes://web-cacert"]),
    );
    assert_eq!(
        decoded(&secrets),
        vec![validation("kubernetes://web-cacert", CA)]
    );
}

#[test]
fn names_that_do_not_resolve_are_left_out_and_reported() {
    let snapshot = snapshot(vec![
        tls("shop", "web", None),
        tls("bank", "vault", Some(CA)),
        kube_secret("shop", "half", &[("tls.crt", CERT)]),
        kube_secret("shop", "ca-only", &[("ca.crt", CA)]),
    ]);
    let served = Served::default();
    let subscription = names(&[
        "kubernetes://vault",
        "kubernetes://bank/vault",
        "kubernetes://web-cacert",
        "kubernetes://half",
        "kubernetes://ca-only",
        "file-cert:/etc/certs/cert.pem",
    ]);
    let secrets = served.generate(&snapshot, NODE, Some("shop"), &subscription);
    assert_eq!(decoded(&secrets), vec![]);
    let entry = |name: &str, reason: &str| json!({"proxy": NODE, "name": name, "reason": reason});
    assert_eq!(
        served.report(),
        json!([
            entry(
                "file-cert:/etc/certs/cert.pem",
                "only kubernetes://<name> secrets are served (Kubernetes Secrets of the proxy's \
                 namespace)"
            ),
            entry(
                "kubernetes://bank/vault",
                "a proxy reads only the Secrets of its own namespace \"shop\", not of \"bank\""
            ),
            entry(
                "kubernetes://ca-only",
                "Secret shop/ca-only holds no certificate (tls.crt and tls.key, or cert and key)"
            ),
            entry(
                "kubernetes://half",
                "Secret shop/half is malformed: it has tls.crt but not tls.key"
            ),
            entry(
                "kubernetes://vault",
                "there is no Secret shop/vault holding a credential"
            ),
            entry(
                "kubernetes://web-cacert",
                "no CA: Secret shop/web holds none (ca.crt or cacert) and there is no Secret \
                 shop/web-cacert"
            ),
        ])
    );
    assert_eq!(
        malformed(&snapshot),
        json!([{"secret": "shop/half", "reason": "it has tls.crt but not tls.key"}])
    );

    // Once the names resolve, or the proxy is gone, nothing is reported.
    served.generate(&snapshot, NODE, Some("shop"), &names(&["kubernetes://web"]));
    assert_eq!(served.report(), json!([]));
    served.generate(&snapshot, NODE, None, &names(&["kubernetes://web"]));
    assert_eq!(
        served.report()[0]["reason"],
        "the proxy's namespace is unknown (no NAMESPACE in its node metadata and none in its \
         node id), and secrets are read in the proxy's namespace only"
    );
    served.retain(&BTreeSet::new());
    assert_eq!(served.report(), json!([]));
}

#[test]
fn a_wildcard_gets_nothing() {
    let snapshot = snapshot(vec![tls("shop", "web", None)]);
    let served = Served::default();
    let secrets = served.generate(&snapshot, NODE, Some("shop"), &Subscription::Wildcard);
    assert_eq!(secrets.len(), 0);
}

#[test]
fn a_secret_change_reaches_the_proxies_of_its_namespace_only() {
    let before = snapshot(vec![tls("shop", "web", None), tls("bank", "vault", None)]);
    let after = snapshot(vec![
        tls("shop", "web", Some(CA)),
        tls("bank", "vault", None),
    ]);
    let scope = scope(&before, &after);
    let target = |namespace: &str| Target {
        class: Some(crate::xds::ProxyClass::Router),
        namespace: Some(namespace.to_string()),
        ips: Vec::new(),
    };
    assert_eq!(scope.reach(&target("shop")), Reach::All);
    assert_eq!(scope.reach(&target("bank")), Reach::None);
    assert!(super::scope(&before, &before).is_empty());
}

#[test]
fn the_dump_redacts_private_keys() {
    let snapshot = snapshot(vec![tls("shop", "web", Some(CA))]);
    let served = Served::default();
    assert_eq!(served.dump(&snapshot, NODE), Ok(json!([])));
    let subscription = names(&[
        "kubernetes://web",
        "kubernetes://web-cacert",
        "kubernetes://gone",
    ]);
    served.generate(&snapshot, NODE, Some("shop"), &subscription);
    let base64 = |pem: &str| base64::engine::general_purpose::STANDARD.encode(pem);
    assert_eq!(
        served.dump(&snapshot, NODE),
        Ok(json!([
            {
                "name": "kubernetes://web",
                "tls_certificate": {
                    "certificate_chain": {"inline_bytes": base64(CERT)},
                    "private_key": {"inline_string": "[redacted]"},
                },
            },
            {
                "name": "kubernetes://web-cacert",
                "validation_context": {"trusted_ca": {"inline_bytes": base64(CA)}},
            },
        ]))
    );
}
