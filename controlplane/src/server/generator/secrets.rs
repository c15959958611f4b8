//! SDS: the Secrets a proxy subscribes to by name, served as Istio's gateways get them.
//!
//! `kubernetes://<name>` is the certificate and key of the Secret `<name>`; `kubernetes://<name>-
//! cacert` is the CA of `<name>` when it holds one, else of the Secret `<name>-cacert`. Names
//! resolve in the proxy's own namespace only (`kubernetes://<namespace>/<name>` is accepted when
//! it names that namespace): a proxy reads no other namespace's credentials.
//!
//! A name that does not resolve is left out of the response, as istiod does: the proxy keeps
//! waiting for it (its cluster or listener stays warming). Why is kept per proxy for
//! `/debug/config_status`. Secrets are read from the snapshot on each request rather than kept
//! in a proxy's translation, so a Secret change regenerates nothing else.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
};

use envoy_types::pb::envoy::{
    config::core::v3::{DataSource, data_source::Specifier},
    extensions::transport_sockets::tls::v3::{
        CertificateValidationContext, Secret, TlsCertificate, secret,
    },
};
use mesh_xds::{Resource, json::to_json};
use serde_json::{Value, json};

use crate::{
    model::{Credential, Credentials, SDS_CA_SUFFIX, SDS_PREFIX, Snapshot},
    xds::{Affected, Encoded, Proxies, Scope, Subscription, Within},
};

/// What a dump shows for a private key, as Envoy's does.
const REDACTED: &str = "[redacted]";

/// What each proxy asked for, and why some names were not served.
#[derive(Debug, Default)]
pub struct Served {
    /// By node id.
    proxies: RwLock<BTreeMap<String, Asked>>,
}

/// The secrets one proxy asked for last.
#[derive(Debug, Default)]
struct Asked {
    namespace: Option<String>,
    names: BTreeSet<String>,
    /// Each name that did not resolve, and why.
    unresolved: BTreeMap<String, String>,
}

// === impl Served ===

impl Served {
    /// The secrets `subscription` names that the proxy of `node_id` in `namespace` may read.
    pub fn generate(
        &self,
        snapshot: &Snapshot,
        node_id: &str,
        namespace: Option<&str>,
        subscription: &Subscription,
    ) -> Vec<Arc<Encoded>> {
        // Envoy names every secret it wants; istiod sends nothing to a wildcard either.
        let Subscription::Names(names) = subscription else {
            return Vec::new();
        };
        let credentials = snapshot.credentials();
        let mut served = Vec::new();
        let mut unresolved = BTreeMap::new();
        for name in names {
            match resolve(credentials, namespace, name) {
                Ok(secret) => served.push(Encoded::new(Resource::from(secret))),
                Err(reason) => {
                    unresolved.insert(name.clone(), reason);
                }
            }
        }
        let asked = Asked {
            namespace: namespace.map(str::to_string),
            names: names.clone(),
            unresolved,
        };
        self.write().insert(node_id.to_string(), asked);
        served
    }

    /// Forgets the proxies `keep` does not name.
    pub fn retain(&self, keep: &BTreeSet<String>) {
        self.write().retain(|id, _| keep.contains(id));
    }

    /// The `unresolved_secrets` of `/debug/config_status`: one entry per proxy and name.
    ///
    /// ```json
    /// [{"proxy": "router~…", "name": "kubernetes://shop-cert", "reason": "…"}]
    /// ```
    pub fn report(&self) -> Value {
        let proxies = self.read();
        let entries = proxies.iter().flat_map(|(proxy, asked)| {
            let unresolved = asked.unresolved.iter();
            unresolved
                .map(move |(name, reason)| json!({"proxy": proxy, "name": name, "reason": reason}))
        });
        Value::Array(entries.collect())
    }

    /// The `secrets` of `/debug/config_dump`: those the proxy of `node_id` asked for that
    /// resolve in `snapshot`, as Envoy prints them, with private keys redacted as Envoy's dump
    /// redacts them.
    pub fn dump(&self, snapshot: &Snapshot, node_id: &str) -> Result<Value, String> {
        let proxies = self.read();
        let Some(asked) = proxies.get(node_id) else {
            return Ok(Value::Array(Vec::new()));
        };
        let credentials = snapshot.credentials();
        let namespace = asked.namespace.as_deref();
        let resolved = asked.names.iter();
        let resolved = resolved.filter_map(|name| resolve(credentials, namespace, name).ok());
        let dumped: Result<Vec<Value>, _> = resolved.map(|s| to_json(&redact(s))).collect();
        dumped.map(Value::Array).map_err(|error| error.to_string())
    }

    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Asked>> {
        // Entries are replaced whole: one left by a panicking thread is still whole.
        self.proxies.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Asked>> {
        self.proxies.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `malformed_secrets` of `/debug/config_status`: each Secret that means to hold a
/// credential and does not, and why (never what it holds).
pub fn malformed(snapshot: &Snapshot) -> Value {
    let malformed = snapshot.credentials().malformed().map(|(key, error)| {
        json!({
            "secret": format!("{}/{}", key.namespace, key.name),
            "reason": error.to_string(),
        })
    });
    Value::Array(malformed.collect())
}

/// The proxies a change of Secrets from `before` to `after` reaches: every proxy of a namespace
/// whose Secrets changed (each then gets the names it subscribes to again, and only a proxy
/// whose secrets changed is sent anything).
pub fn scope(before: &Snapshot, after: &Snapshot) -> Scope {
    let namespaces = before.credentials().changed_namespaces(after.credentials());
    if namespaces.is_empty() {
        return Scope::none();
    }
    Scope::Some(Affected {
        all_types: Proxies {
            sidecars: Within::Namespaces(namespaces.clone()),
            routers: Within::Namespaces(namespaces),
            addresses: BTreeSet::new(),
        },
        endpoints: Proxies::default(),
    })
}

/// The secret `name` names for a proxy in `namespace`, or why there is none.
fn resolve(
    credentials: &Credentials,
    namespace: Option<&str>,
    name: &str,
) -> Result<Secret, String> {
    let Some(reference) = name.strip_prefix(SDS_PREFIX) else {
        return Err(format!(
            "only {SDS_PREFIX}<name> secrets are served (Kubernetes Secrets of the \
             proxy's namespace)"
        ));
    };
    let Some(namespace) = namespace else {
        return Err(
            "the proxy's namespace is unknown (no NAMESPACE in its node metadata and \
                    none in its node id), and secrets are read in the proxy's namespace only"
                .to_string(),
        );
    };
    let secret_name = match reference.split_once('/') {
        None => reference,
        Some((other, secret_name)) if other == namespace => secret_name,
        Some((other, _)) => {
            return Err(format!(
                "a proxy reads only the Secrets of its own namespace {namespace:?}, not of \
                 {other:?}"
            ));
        }
    };
    if secret_name.is_empty() {
        return Err("the name does not name a Secret".to_string());
    }
    match secret_name.strip_suffix(SDS_CA_SUFFIX) {
        Some(base) => ca(credentials, namespace, base, secret_name).map(|ca| Secret {
            name: name.to_string(),
            r#type: Some(secret::Type::ValidationContext(
                CertificateValidationContext {
                    trusted_ca: Some(inline(ca)),
                    ..CertificateValidationContext::default()
                },
            )),
        }),
        None => {
            let credential = credential(credentials, namespace, secret_name)?;
            let Some(pair) = &credential.certificate else {
                return Err(format!(
                    "Secret {namespace}/{secret_name} holds no certificate (tls.crt and \
                     tls.key, or cert and key)"
                ));
            };
            Ok(Secret {
                name: name.to_string(),
                r#type: Some(secret::Type::TlsCertificate(TlsCertificate {
                    certificate_chain: Some(inline(&pair.chain)),
                    private_key: Some(inline(&pair.private_key)),
                    ..TlsCertificate::default()
                })),
            })
        }
    }
}

/// The CA of `base`'s secret when it holds one, else of the secret `ca_name` (`base-cacert`).
fn ca<'c>(
    credentials: &'c Credentials,
    namespace: &str,
    base: &str,
    ca_name: &str,
) -> Result<&'c [u8], String> {
    if let Some(Ok(Credential { ca: Some(ca), .. })) = credentials.get(namespace, base) {
        return Ok(ca);
    }
    match credentials.get(namespace, ca_name) {
        Some(Ok(Credential { ca: Some(ca), .. })) => Ok(ca),
        Some(Ok(_)) => Err(format!(
            "neither Secret {namespace}/{base} nor {namespace}/{ca_name} holds a CA (ca.crt or \
             cacert)"
        )),
        Some(Err(error)) => Err(format!(
            "Secret {namespace}/{ca_name} is malformed: {error}"
        )),
        None => match credentials.get(namespace, base) {
            Some(Err(error)) => Err(format!("Secret {namespace}/{base} is malformed: {error}")),
            _ => Err(format!(
                "no CA: Secret {namespace}/{base} holds none (ca.crt or cacert) and there is no \
                 Secret {namespace}/{ca_name}"
            )),
        },
    }
}

fn credential<'c>(
    credentials: &'c Credentials,
    namespace: &str,
    name: &str,
) -> Result<&'c Credential, String> {
    match credentials.get(namespace, name) {
        Some(Ok(credential)) => Ok(credential),
        Some(Err(error)) => Err(format!("Secret {namespace}/{name} is malformed: {error}")),
        None => Err(format!(
            "there is no Secret {namespace}/{name} holding a credential"
        )),
    }
}

/// `secret` with its private key replaced, as Envoy prints one.
fn redact(mut secret: Secret) -> Secret {
    if let Some(secret::Type::TlsCertificate(certificate)) = &mut secret.r#type {
        certificate.private_key = Some(DataSource {
            specifier: Some(Specifier::InlineString(REDACTED.to_string())),
            ..DataSource::default()
        });
    }
    secret
}

fn inline(bytes: &[u8]) -> DataSource {
    DataSource {
        specifier: Some(Specifier::InlineBytes(bytes.to_vec())),
        ..DataSource::default()
    }
}

#[cfg(test)]
mod tests;
