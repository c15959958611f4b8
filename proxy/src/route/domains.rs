//! Virtual hosts indexed by domain, looked up with Envoy's precedence.
//!
//! Envoy picks, for a lower-cased `Host`: the exact domain; else the longest suffix wildcard
//! (`*.foo.com`, `*-bar.foo.com`) that leaves at least one character for the `*`; else the
//! longest prefix wildcard (`foo.*`) likewise; else `*`. The port is part of the host being
//! matched (Istio lists domains with and without it), unless `ignore_port_in_host_matching`
//! strips it first.

use std::collections::{BTreeMap, HashMap, hash_map::Entry};

use mesh_common::path::FieldPath;

use crate::config_error::FieldError;

/// Domains to virtual host indices.
#[derive(Clone, Debug, Default)]
pub struct DomainIndex {
    exact: HashMap<String, usize>,
    /// Wildcard domains without their `*`, grouped by length so that a lookup costs one hash
    /// probe per distinct length, tried longest first.
    suffixes: BTreeMap<usize, HashMap<String, usize>>,
    prefixes: BTreeMap<usize, HashMap<String, usize>>,
    default: Option<usize>,
    ignore_port: bool,
}

// === impl DomainIndex ===

impl DomainIndex {
    /// An empty index; `ignore_port` strips the port from hosts before lookup.
    pub fn new(ignore_port: bool) -> Self {
        Self {
            ignore_port,
            ..Self::default()
        }
    }

    /// Adds `domain` (at `path`) for virtual host `vhost`; a domain seen before is an error,
    /// as Envoy refuses it.
    pub fn insert(
        &mut self,
        domain: &str,
        vhost: usize,
        path: &FieldPath,
    ) -> Result<(), FieldError> {
        if domain.is_empty() {
            return Err(FieldError::new(path.clone(), "domain must not be empty"));
        }
        let domain = domain.to_ascii_lowercase();
        let slot = if domain == "*" {
            if self.default.is_some() {
                return Err(duplicate(&domain, path));
            }
            self.default = Some(vhost);
            return Ok(());
        } else if let Some(suffix) = domain.strip_prefix('*') {
            self.suffixes
                .entry(suffix.len())
                .or_default()
                .entry(suffix.to_owned())
        } else if let Some(prefix) = domain.strip_suffix('*') {
            self.prefixes
                .entry(prefix.len())
                .or_default()
                .entry(prefix.to_owned())
        } else {
            self.exact.entry(domain.clone())
        };
        match slot {
            Entry::Occupied(_) => Err(duplicate(&domain, path)),
            Entry::Vacant(slot) => {
                slot.insert(vhost);
                Ok(())
            }
        }
    }

    /// The virtual host for a request's `:authority`/`Host`.
    pub fn find(&self, authority: &str) -> Option<usize> {
        let host = if self.ignore_port {
            strip_port(authority)
        } else {
            authority
        };
        // Hosts are case-insensitive; clients almost always send lower case, so only then is
        // a lower-cased copy made.
        let lowered;
        let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
            lowered = host.to_ascii_lowercase();
            lowered.as_str()
        } else {
            host
        };
        if let Some(&vhost) = self.exact.get(host) {
            return Some(vhost);
        }
        for (&len, by_suffix) in self.suffixes.range(..host.len()).rev() {
            if let Some(&vhost) = host.get(host.len() - len..).and_then(|s| by_suffix.get(s)) {
                return Some(vhost);
            }
        }
        for (&len, by_prefix) in self.prefixes.range(..host.len()).rev() {
            if let Some(&vhost) = host.get(..len).and_then(|p| by_prefix.get(p)) {
                return Some(vhost);
            }
        }
        self.default
    }
}

fn duplicate(domain: &str, path: &FieldPath) -> FieldError {
    FieldError::new(
        path.clone(),
        format!("domain {domain:?} is already used by another virtual host or entry"),
    )
}

/// `host:port` → `host`, `[::1]:80` → `[::1]`; a bare IPv6 address is left whole.
fn strip_port(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(colon)
            if authority[colon + 1..].bytes().all(|b| b.is_ascii_digit())
                && (!authority.starts_with('[') || authority[..colon].ends_with(']'))
                && (authority.starts_with('[') || !authority[..colon].contains(':')) =>
        {
            &authority[..colon]
        }
        _ => authority,
    }
}

#[cfg(test)]
mod tests;
