//! Request mirroring (`RouteAction.request_mirror_policies`): which clusters get a shadow copy of
//! a forwarded request, for which share of requests, and the shadow's host.
//!
//! Served: `cluster`, `runtime_fraction.default_value` (unset is every request, as in Envoy)
//! and `disable_shadow_host_suffix_append`. Refused: `cluster_header`,
//! `request_headers_mutations`, `host_rewrite_literal`. Ignored: `runtime_fraction.runtime_key`
//! (mesh-proxy has no runtime, so the default value always applies) and `trace_sampled` (only
//! the sampling of a tracing span; mesh-proxy creates no spans and sends the shadow with the
//! request's own trace headers).

use envoy_types::pb::envoy::config::route::v3::route_action::RequestMirrorPolicy;
use mesh_common::path::FieldPath;
use rand::Rng;

use super::fault::Fraction;
use crate::config_error::{FieldError, reject_if};

/// What Envoy appends to the shadow's host, before any port.
pub const SHADOW_SUFFIX: &str = "-shadow";

/// One compiled `RequestMirrorPolicy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MirrorPolicy {
    /// The cluster that receives the shadow.
    pub cluster: String,
    /// The share of requests mirrored.
    pub fraction: Fraction,
    /// Whether the shadow's host gets [`SHADOW_SUFFIX`].
    pub suffix_host: bool,
}

// === impl MirrorPolicy ===

impl MirrorPolicy {
    /// Compiles the `request_mirror_policies` found at `path`.
    pub fn compile_all(
        policies: &[RequestMirrorPolicy],
        path: &FieldPath,
    ) -> Result<Vec<Self>, FieldError> {
        policies
            .iter()
            .enumerate()
            .map(|(i, p)| Self::compile(p, &path.index(i)))
            .collect()
    }

    fn compile(p: &RequestMirrorPolicy, path: &FieldPath) -> Result<Self, FieldError> {
        reject_if(!p.cluster_header.is_empty(), path, "cluster_header")?;
        reject_if(
            !p.request_headers_mutations.is_empty(),
            path,
            "request_headers_mutations",
        )?;
        reject_if(
            !p.host_rewrite_literal.is_empty(),
            path,
            "host_rewrite_literal",
        )?;
        if p.cluster.is_empty() {
            return Err(FieldError::new(path.field("cluster"), "must not be empty"));
        }
        let fraction = match &p.runtime_fraction {
            None => Fraction::ALL,
            Some(runtime) => {
                let path = path.field("runtime_fraction");
                let Some(default) = &runtime.default_value else {
                    return Err(FieldError::new(path.field("default_value"), "is required"));
                };
                Fraction::compile(Some(default), &path.field("default_value"))?
            }
        };
        Ok(Self {
            cluster: p.cluster.clone(),
            fraction,
            suffix_host: !p.disable_shadow_host_suffix_append,
        })
    }

    /// Whether this request is mirrored.
    pub fn sample(&self, rng: &mut impl Rng) -> bool {
        self.fraction.draw(rng)
    }

    /// The shadow's `:authority`: Envoy's `-shadow` suffix goes before any port
    /// (`shop:8080` → `shop-shadow:8080`, `[::1]:80` → `[::1]-shadow:80`).
    pub fn shadow_host(&self, authority: &str) -> String {
        if !self.suffix_host {
            return authority.to_owned();
        }
        let (host, port) = split_port(authority);
        format!("{host}{SHADOW_SUFFIX}{port}")
    }
}

/// Splits `authority` before its `:port`, if it has one; an IPv6 literal keeps its colons.
fn split_port(authority: &str) -> (&str, &str) {
    let search_from = authority.rfind(']').unwrap_or(0);
    match authority[search_from..].rfind(':') {
        Some(i) => authority.split_at(search_from + i),
        None => (authority, ""),
    }
}

#[cfg(test)]
mod tests;
