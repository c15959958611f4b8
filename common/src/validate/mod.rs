//! Validation of Istio resources: every problem, with its field path and a message an operator
//! can act on.
//!
//! One implementation serves the control plane (which rejects a bad resource and keeps serving
//! the last good one), the validation webhook and `meshctl analyze`.

mod authentication;
mod authorization_policy;
mod common;
mod destination_rule;
mod gateway;
mod headers;
mod http_policy;
mod http_route;
mod load_balancer;
mod selectors;
mod service_entry;
mod sidecar;
mod telemetry;
mod traffic_policy;
mod virtual_service;

#[cfg(test)]
mod tests;

use std::fmt;

pub use self::{gateway::CIPHER_SUITES, http_policy::grpc_status_code};

use crate::{
    api::{Decoded, Resource, ResourceKey},
    path::FieldPath,
};

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The resource is rejected: using it would route traffic other than the user meant.
    Error,
    /// The resource is used, but part of it has no effect (or not the effect the user may
    /// expect): a field mesh.rs does not implement yet, a deprecated field.
    Warning,
}

/// One problem in a resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub path: FieldPath,
    pub message: String,
}

/// The findings of one resource, displayed one per line as
/// `VirtualService default/reviews: spec.http[1].route: weights sum to 90, must be 100`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub key: ResourceKey,
    pub findings: Vec<Finding>,
}

// === impl Finding ===

impl Finding {
    pub fn error(path: FieldPath, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            path,
            message: message.into(),
        }
    }

    pub fn warning(path: FieldPath, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

// === impl Report ===

impl Report {
    /// True when the resource must not be used.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }

    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, finding) in self.findings.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {finding}", self.key)?;
        }
        Ok(())
    }
}

/// Everything wrong with a decoded document: fields mesh.rs does not know (errors: a typo must
/// not silently change routing), fields it knows but does not honour (warnings, from
/// [`crate::support`]), and the rules of the resource's kind.
pub fn validate_decoded(decoded: &Decoded) -> Report {
    let mut findings: Vec<Finding> = decoded
        .unknown_fields
        .iter()
        .map(|field| Finding::error(field.path.clone(), "unknown field"))
        .collect();
    findings.extend(crate::support::report(&decoded.resource));
    findings.extend(validate(&decoded.resource));
    Report {
        key: decoded.resource.key(),
        findings,
    }
}

/// The rules of the resource's kind, as Istio documents them.
pub fn validate(resource: &Resource) -> Vec<Finding> {
    let mut findings = common::Findings::default();
    let namespace = resource.namespace();
    match resource {
        Resource::VirtualService(vs) => {
            virtual_service::validate(&mut findings, namespace, &vs.spec)
        }
        Resource::DestinationRule(dr) => {
            destination_rule::validate(&mut findings, namespace, &dr.spec)
        }
        Resource::Gateway(gw) => gateway::validate(&mut findings, resource.name(), &gw.spec),
        Resource::ServiceEntry(se) => service_entry::validate(&mut findings, namespace, &se.spec),
        Resource::WorkloadEntry(we) => {
            service_entry::validate_workload_entry(&mut findings, &we.spec)
        }
        Resource::Sidecar(sidecar) => sidecar::validate(&mut findings, &sidecar.spec),
        Resource::AuthorizationPolicy(ap) => {
            authorization_policy::validate(&mut findings, &ap.spec)
        }
        Resource::PeerAuthentication(pa) => authentication::validate_peer(&mut findings, &pa.spec),
        Resource::RequestAuthentication(ra) => {
            authentication::validate_request(&mut findings, &ra.spec)
        }
        Resource::Telemetry(t) => telemetry::validate(&mut findings, &t.spec),
    }
    findings.into_vec()
}
