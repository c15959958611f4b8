//! Workload identity: SPIFFE IDs of the form
//! `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
//!
//! The certificate authority puts them in certificates, the proxy checks them on every mutual
//! TLS handshake, and metrics and authorization policies name peers by them: one parser for all.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::well_known::DEFAULT_TRUST_DOMAIN;

const SCHEME: &str = "spiffe://";

/// The identity of a workload: its trust domain, namespace and service account.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpiffeId {
    trust_domain: String,
    namespace: String,
    service_account: String,
}

/// Why a string is not a workload SPIFFE ID.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid SPIFFE ID {id:?}: {reason}")]
pub struct SpiffeIdError {
    pub id: String,
    pub reason: &'static str,
}

// === impl SpiffeId ===

impl SpiffeId {
    /// Builds an ID, checking each part as [`FromStr`] would.
    pub fn new(
        trust_domain: &str,
        namespace: &str,
        service_account: &str,
    ) -> Result<Self, SpiffeIdError> {
        format!("{SCHEME}{trust_domain}/ns/{namespace}/sa/{service_account}").parse()
    }

    /// The ID of a service account in the default trust domain, `cluster.local`.
    pub fn in_default_domain(
        namespace: &str,
        service_account: &str,
    ) -> Result<Self, SpiffeIdError> {
        Self::new(DEFAULT_TRUST_DOMAIN, namespace, service_account)
    }

    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn service_account(&self) -> &str {
        &self.service_account
    }

    /// The principal as Istio's metrics and policies write it: the ID without `spiffe://`.
    pub fn principal(&self) -> String {
        format!(
            "{}/ns/{}/sa/{}",
            self.trust_domain, self.namespace, self.service_account
        )
    }
}

impl FromStr for SpiffeId {
    type Err = SpiffeIdError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let fail = |reason| SpiffeIdError {
            id: id.to_string(),
            reason,
        };
        let rest = id
            .strip_prefix(SCHEME)
            .ok_or_else(|| fail("it must start with spiffe://"))?;
        let (trust_domain, path) = rest
            .split_once('/')
            .ok_or_else(|| fail("it has no path; expected /ns/<namespace>/sa/<service-account>"))?;
        if trust_domain.is_empty() {
            return Err(fail("the trust domain is empty"));
        }
        // SPIFFE allows only these characters in a trust domain; no ports, no user info.
        if !trust_domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._".contains(&b))
        {
            return Err(fail(
                "the trust domain may hold only lowercase letters, digits, '.', '-' and '_'",
            ));
        }
        let segments: Vec<&str> = path.split('/').collect();
        let [ns, namespace, sa, service_account] = segments[..] else {
            return Err(fail(
                "expected the path /ns/<namespace>/sa/<service-account>",
            ));
        };
        if ns != "ns" || sa != "sa" {
            return Err(fail(
                "expected the path /ns/<namespace>/sa/<service-account>",
            ));
        }
        for segment in [namespace, service_account] {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(fail("a path segment is empty, '.' or '..'"));
            }
            if !segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
            {
                return Err(fail(
                    "a path segment may hold only letters, digits, '.', '-' and '_'",
                ));
            }
        }
        Ok(Self {
            trust_domain: trust_domain.to_string(),
            namespace: namespace.to_string(),
            service_account: service_account.to_string(),
        })
    }
}

impl fmt::Display for SpiffeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.principal())
    }
}

impl Serialize for SpiffeId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SpiffeId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays_workload_ids() {
        let id: SpiffeId = "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
            .parse()
            .unwrap();
        assert_eq!(id.trust_domain(), "cluster.local");
        assert_eq!(id.namespace(), "default");
        assert_eq!(id.service_account(), "bookinfo-reviews");
        assert_eq!(
            id.principal(),
            "cluster.local/ns/default/sa/bookinfo-reviews"
        );
        assert_eq!(
            id.to_string(),
            "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
        );
        assert_eq!(
            SpiffeId::in_default_domain("default", "bookinfo-reviews").unwrap(),
            id
        );
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<SpiffeId>(&json).unwrap(), id);
    }

    #[test]
    fn rejects_what_is_not_a_workload_id() {
        let reason = |s: &str| s.parse::<SpiffeId>().unwrap_err().reason;
        assert_eq!(
            reason("http://cluster.local/ns/a/sa/b"),
            "it must start with spiffe://"
        );
        assert_eq!(
            reason("spiffe://cluster.local"),
            "it has no path; expected /ns/<namespace>/sa/<service-account>"
        );
        assert_eq!(reason("spiffe:///ns/a/sa/b"), "the trust domain is empty");
        assert_eq!(
            reason("spiffe://Cluster.Local/ns/a/sa/b"),
            "the trust domain may hold only lowercase letters, digits, '.', '-' and '_'"
        );
        assert_eq!(
            reason("spiffe://td/ns/a/sa/b/c"),
            "expected the path /ns/<namespace>/sa/<service-account>"
        );
        assert_eq!(
            reason("spiffe://td/namespace/a/sa/b"),
            "expected the path /ns/<namespace>/sa/<service-account>"
        );
        assert_eq!(
            reason("spiffe://td/ns//sa/b"),
            "a path segment is empty, '.' or '..'"
        );
        assert_eq!(
            reason("spiffe://td/ns/../sa/b"),
            "a path segment is empty, '.' or '..'"
        );
        assert_eq!(
            reason("spiffe://td/ns/a b/sa/b"),
            "a path segment may hold only letters, digits, '.', '-' and '_'"
        );
        assert!(serde_json::from_str::<SpiffeId>("\"spiffe://td\"").is_err());
    }
}
