//! Kubernetes Secrets read as TLS credentials, as Istio's credential controller reads them for
//! `credentialName`: a certificate with its key under `tls.crt`/`tls.key` (type
//! `kubernetes.io/tls`, or `Opaque`) or `cert`/`key` (Istio's generic layout), and a CA bundle
//! under `ca.crt` or `cacert`. `stringData` is read as the API server merges it: over `data`.
//!
//! Only secrets that can be credentials are read: type `kubernetes.io/tls`, or `Opaque` (or no
//! type) holding one of those keys. Service-account tokens, registry credentials and the like
//! are not credentials and not reported. Nothing here logs or prints key material.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use k8s_openapi::api::core::v1::Secret;

use super::{ObjectKey, Objects};

/// The prefix of the SDS name of a Secret of the proxy's namespace, as Istio names it:
/// `kubernetes://<name>`.
pub const SDS_PREFIX: &str = "kubernetes://";
/// The suffix of the SDS name of a Secret's CA, as Istio names it: `kubernetes://<name>-cacert`.
pub const SDS_CA_SUFFIX: &str = "-cacert";

/// The type of a TLS secret.
const TLS_TYPE: &str = "kubernetes.io/tls";
/// Kubernetes' type for arbitrary data, and what a Secret without `type` is.
const OPAQUE_TYPE: &str = "Opaque";

/// Istio's generic layout, then Kubernetes' TLS layout: (certificate, key, CA).
const LAYOUTS: [(&str, &str, &str); 2] =
    [("cert", "key", "cacert"), ("tls.crt", "tls.key", "ca.crt")];

/// The credential of every Secret that holds one, and why the others that mean to are not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    secrets: BTreeMap<ObjectKey, Result<Credential, SecretError>>,
}

/// What one Secret holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    /// A certificate chain and its private key; `None` in a CA-only secret.
    pub certificate: Option<KeyPair>,
    /// A PEM bundle of CA certificates.
    pub ca: Option<Vec<u8>>,
}

/// A PEM certificate chain and its PEM private key.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyPair {
    pub chain: Vec<u8>,
    pub private_key: Vec<u8>,
}

/// Why a Secret that looks like a credential is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("it has {present} but not {missing}")]
    HalfPair {
        present: &'static str,
        missing: &'static str,
    },
    #[error("{key} is not PEM (no \"-----BEGIN\" line)")]
    NotPem { key: &'static str },
    #[error(
        "a kubernetes.io/tls secret needs tls.crt and tls.key (or cert and key), or a CA in \
         ca.crt or cacert; it has none"
    )]
    Empty,
}

// === impl Credentials ===

impl Credentials {
    /// The credential of the Secret `namespace/name`: `None` when there is no such Secret or it
    /// is not a credential.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Result<Credential, SecretError>> {
        self.secrets.get(&ObjectKey::new(namespace, name))
    }

    /// The secrets that mean to be credentials and are not, in key order.
    pub fn malformed(&self) -> impl Iterator<Item = (&ObjectKey, &SecretError)> {
        self.secrets
            .iter()
            .filter_map(|(key, read)| Some((key, read.as_ref().err()?)))
    }

    /// The namespaces in which `self` and `other` differ.
    pub fn changed_namespaces(&self, other: &Credentials) -> BTreeSet<String> {
        let keys: BTreeSet<&ObjectKey> = self.secrets.keys().chain(other.secrets.keys()).collect();
        keys.into_iter()
            .filter(|key| self.secrets.get(key) != other.secrets.get(key))
            .map(|key| key.namespace.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

// === impl KeyPair ===

/// Never the key: a debug print ends up in logs.
impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("chain", &format_args!("{} bytes", self.chain.len()))
            .field("private_key", &format_args!("[redacted]"))
            .finish()
    }
}

/// Reads `secret` as a credential: `None` when it is not meant to be one.
pub fn read(secret: &Secret) -> Option<Result<Credential, SecretError>> {
    let kind = secret.type_.as_deref().unwrap_or(OPAQUE_TYPE);
    let tls = kind == TLS_TYPE;
    if !tls && kind != OPAQUE_TYPE {
        return None;
    }
    let values = values(secret);
    let known = LAYOUTS
        .iter()
        .any(|(cert, key, ca)| [cert, key, ca].iter().any(|k| values.contains_key(**k)));
    if !known {
        return tls.then_some(Err(SecretError::Empty));
    }
    Some(credential(&values))
}

fn credential(values: &BTreeMap<&str, &[u8]>) -> Result<Credential, SecretError> {
    let mut certificate = None;
    for (cert, key, _) in LAYOUTS {
        match (values.get(cert), values.get(key)) {
            (Some(chain), Some(private_key)) => {
                certificate = Some(KeyPair {
                    chain: pem(cert, chain)?,
                    private_key: pem(key, private_key)?,
                });
                break;
            }
            (Some(_), None) => {
                return Err(SecretError::HalfPair {
                    present: cert,
                    missing: key,
                });
            }
            (None, Some(_)) => {
                return Err(SecretError::HalfPair {
                    present: key,
                    missing: cert,
                });
            }
            (None, None) => {}
        }
    }
    let ca = LAYOUTS
        .iter()
        .find_map(|(_, _, ca)| Some((*ca, *values.get(ca)?)))
        .map(|(key, bundle)| pem(key, bundle))
        .transpose()?;
    if certificate.is_none() && ca.is_none() {
        return Err(SecretError::Empty);
    }
    Ok(Credential { certificate, ca })
}

/// The non-empty values of `data`, with `stringData`'s over them (as the API server writes
/// them), by key. Istio reads an empty value as a missing one.
fn values(secret: &Secret) -> BTreeMap<&str, &[u8]> {
    let data = secret.data.iter().flatten();
    let data = data.map(|(key, value)| (key.as_str(), value.0.as_slice()));
    let strings = secret.string_data.iter().flatten();
    let strings = strings.map(|(key, value)| (key.as_str(), value.as_bytes()));
    data.chain(strings)
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

/// `value` when it is PEM-armoured; what it holds the proxy checks when it loads it.
fn pem(key: &'static str, value: &[u8]) -> Result<Vec<u8>, SecretError> {
    let armoured = value.windows(11).any(|window| window == b"-----BEGIN ");
    match armoured {
        true => Ok(value.to_vec()),
        false => Err(SecretError::NotPem { key }),
    }
}

/// Keeps the credential of the Secret of `key` as it now is.
pub(super) fn secret_changed(objects: &mut Objects, key: &ObjectKey, _: Option<&Secret>) {
    let read = objects.secrets.get(key).and_then(read);
    let credentials = &mut objects.credentials;
    if credentials.secrets.get(key) == read.as_ref() {
        return;
    }
    // Snapshots hold the credentials they were built with: this copies them only when one does.
    let secrets = &mut std::sync::Arc::make_mut(credentials).secrets;
    match read {
        Some(read) => secrets.insert(key.clone(), read),
        None => secrets.remove(key),
    };
}

#[cfg(test)]
mod tests;
