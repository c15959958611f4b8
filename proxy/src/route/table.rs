//! A compiled `RouteConfiguration` and the lookup that turns a request into a [`Decision`].
//!
//! Refused in `RouteConfiguration`: `vhds`, `internal_only_headers`,
//! `cluster_specifier_plugins`, `request_mirror_policies`, `vhost_header`,
//! `ignore_path_parameters_in_path_matching`, `typed_per_filter_config`, `route_specifiers`.
//! Ignored: `metadata`, and `validate_clusters` (a check the control plane makes, not a
//! routing rule).

use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use mesh_common::path::FieldPath;

use super::{
    action::{Action, RoutePolicy},
    clusters::ClusterTarget,
    domains::DomainIndex,
    header_edits::HeaderEdits,
    request::RequestMeta,
    respond::{DEFAULT_MAX_DIRECT_BODY, DirectResponse, Redirect},
    vhost::{Route, VirtualHost},
};
use crate::config_error::{ConfigError, FieldError, reject_if};

const KIND: &str = "RouteConfiguration";

/// A validated, compiled `RouteConfiguration`: immutable, shared behind an `Arc` and replaced
/// whole when a new one arrives.
#[derive(Clone, Debug)]
pub struct RouteTable {
    name: String,
    vhosts: Vec<VirtualHost>,
    domains: DomainIndex,
    request_headers: HeaderEdits,
    response_headers: HeaderEdits,
    most_specific_header_mutations_wins: bool,
    /// Whether any virtual host has `require_tls`, so that tables without one skip the check.
    any_require_tls: bool,
}

/// Where a request goes and how, borrowed from the table that decided it.
#[derive(Clone, Copy, Debug)]
pub struct Decision<'t> {
    /// The matched virtual host.
    pub vhost: &'t VirtualHost,
    /// The matched route.
    pub route: &'t Route,
    /// What to do.
    pub outcome: Outcome<'t>,
    table: &'t RouteTable,
}

/// What to do with a routed request.
#[derive(Clone, Copy, Debug)]
pub enum Outcome<'t> {
    /// Forward to `cluster` (already picked from a weighted split) under `policy`.
    Forward {
        cluster: &'t ClusterTarget,
        policy: &'t RoutePolicy,
    },
    /// Answer with a redirect.
    Redirect(&'t Redirect),
    /// Answer with a fixed response.
    Direct(&'t DirectResponse),
}

// === impl RouteTable ===

impl RouteTable {
    /// Validates and compiles a `RouteConfiguration`, or says precisely why it is refused.
    pub fn compile(config: &RouteConfiguration) -> Result<Self, ConfigError> {
        Self::compile_fields(config).map_err(|e| e.in_resource(KIND, &config.name))
    }

    fn compile_fields(c: &RouteConfiguration) -> Result<Self, FieldError> {
        let root = FieldPath::root();
        reject_if(c.vhds.is_some(), &root, "vhds")?;
        reject_if(
            !c.internal_only_headers.is_empty(),
            &root,
            "internal_only_headers",
        )?;
        reject_if(
            !c.cluster_specifier_plugins.is_empty(),
            &root,
            "cluster_specifier_plugins",
        )?;
        reject_if(
            !c.request_mirror_policies.is_empty(),
            &root,
            "request_mirror_policies",
        )?;
        reject_if(!c.vhost_header.is_empty(), &root, "vhost_header")?;
        reject_if(
            c.ignore_path_parameters_in_path_matching,
            &root,
            "ignore_path_parameters_in_path_matching",
        )?;
        reject_if(
            !c.typed_per_filter_config.is_empty(),
            &root,
            "typed_per_filter_config",
        )?;
        reject_if(!c.route_specifiers.is_empty(), &root, "route_specifiers")?;
        let max_body = c
            .max_direct_response_body_size_bytes
            .as_ref()
            .map_or(DEFAULT_MAX_DIRECT_BODY, |v| v.value);
        let mut domains = DomainIndex::new(c.ignore_port_in_host_matching);
        let mut vhosts = Vec::with_capacity(c.virtual_hosts.len());
        for (i, v) in c.virtual_hosts.iter().enumerate() {
            let path = root.field("virtual_hosts").index(i);
            for (j, domain) in v.domains.iter().enumerate() {
                domains.insert(domain, i, &path.field("domains").index(j))?;
            }
            vhosts.push(VirtualHost::compile(v, max_body, &path)?);
        }
        Ok(Self {
            name: c.name.clone(),
            domains,
            request_headers: HeaderEdits::compile(
                &c.request_headers_to_add,
                &root.field("request_headers_to_add"),
                &c.request_headers_to_remove,
                &root.field("request_headers_to_remove"),
            )?,
            response_headers: HeaderEdits::compile(
                &c.response_headers_to_add,
                &root.field("response_headers_to_add"),
                &c.response_headers_to_remove,
                &root.field("response_headers_to_remove"),
            )?,
            most_specific_header_mutations_wins: c.most_specific_header_mutations_wins,
            any_require_tls: vhosts.iter().any(|v| v.require_tls),
            vhosts,
        })
    }

    /// The configuration's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The virtual hosts, in configuration order.
    pub fn virtual_hosts(&self) -> &[VirtualHost] {
        &self.vhosts
    }

    /// Whether the request's virtual host requires TLS (`require_tls`) and the request did
    /// not come over it (`x-forwarded-proto` is not `https`): Envoy answers it with a 301 to
    /// `https` before looking at any route.
    pub fn redirects_to_tls(&self, req: &RequestMeta<'_>) -> bool {
        self.any_require_tls
            && req
                .headers
                .get("x-forwarded-proto")
                .is_none_or(|proto| proto.as_bytes() != b"https")
            && self
                .domains
                .find(req.authority)
                .and_then(|i| self.vhosts.get(i))
                .is_some_and(|v| v.require_tls)
    }

    /// Routes a request: `None` when no virtual host or no route matches (a 404). `random` is
    /// a uniformly random number that picks from a weighted split, passed in so that the
    /// decision is a pure function.
    pub fn find<'t>(&'t self, req: &RequestMeta<'_>, random: u64) -> Option<Decision<'t>> {
        let vhost = self.vhosts.get(self.domains.find(req.authority)?)?;
        let route = vhost.find(req)?;
        let outcome = match &route.action {
            Action::Forward(forward) => Outcome::Forward {
                cluster: forward.clusters.pick(random),
                policy: &forward.policy,
            },
            Action::Redirect(redirect) => Outcome::Redirect(redirect),
            Action::Direct(direct) => Outcome::Direct(direct),
        };
        Some(Decision {
            vhost,
            route,
            outcome,
            table: self,
        })
    }
}

// === impl Decision ===

impl<'t> Decision<'t> {
    /// The forwarded request's new path and query, if the route rewrites it.
    pub fn rewritten_path(&self, req: &RequestMeta<'_>) -> Option<String> {
        match self.outcome {
            Outcome::Forward { policy, .. } => {
                Some(policy.path_rewrite.as_ref()?.apply(req.path_and_query))
            }
            Outcome::Redirect(redirect) => {
                Some(redirect.rewrite.as_ref()?.apply(req.path_and_query))
            }
            Outcome::Direct(_) => None,
        }
    }

    /// Request header edits in the order to apply them: by default the most specific level
    /// (picked cluster, route, virtual host, configuration) first, so that the least specific
    /// has the last word, as Envoy does; reversed with `most_specific_header_mutations_wins`.
    pub fn request_header_edits(&self) -> [&'t HeaderEdits; 4] {
        self.ordered(
            |c| &c.request_headers,
            &self.route.request_headers,
            &self.vhost.request_headers,
            &self.table.request_headers,
        )
    }

    /// Response header edits in the order to apply them (see
    /// [`request_header_edits`](Self::request_header_edits)).
    pub fn response_header_edits(&self) -> [&'t HeaderEdits; 4] {
        self.ordered(
            |c| &c.response_headers,
            &self.route.response_headers,
            &self.vhost.response_headers,
            &self.table.response_headers,
        )
    }

    fn ordered(
        &self,
        cluster: impl Fn(&'t ClusterTarget) -> &'t HeaderEdits,
        route: &'t HeaderEdits,
        vhost: &'t HeaderEdits,
        table: &'t HeaderEdits,
    ) -> [&'t HeaderEdits; 4] {
        static NONE: HeaderEdits = HeaderEdits {
            remove: Vec::new(),
            add: Vec::new(),
        };
        let cluster = match self.outcome {
            Outcome::Forward { cluster: c, .. } => cluster(c),
            _ => &NONE,
        };
        let mut order = [cluster, route, vhost, table];
        if self.table.most_specific_header_mutations_wins {
            order.reverse();
        }
        order
    }
}

#[cfg(test)]
mod tests;
