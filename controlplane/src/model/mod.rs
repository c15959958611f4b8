//! The control plane's model of the mesh: what runs where, and the user's Istio config.
//!
//! The Kubernetes watches and the config-directory store both write the raw inputs into
//! [`Objects`]; [`Snapshot::build`] turns them into one immutable, versioned [`Snapshot`] of
//! services, endpoints and validated config. Translation to Envoy configuration reads only the
//! snapshot, so it never knows which store a resource came from, and everything here is pure
//! and synchronous: tests build snapshots from YAML with no cluster.

mod config;
mod delegate;
mod diff;
mod export_to;
mod host;
mod kube;
mod objects;
mod protocol;
mod service;
mod service_entry;
mod snapshot;
mod virtual_service;

#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;

pub use self::{
    config::{Config, IstioConfig},
    diff::{ChangedObject, ConfigChange, Diff, ServiceChange},
    export_to::{EXPORT_TO_ANNOTATION, ExportTo},
    host::{host_matches, is_wildcard, resolve_host},
    objects::{
        Credential, Credentials, KeyPair, KubeObject, ObjectKey, Objects, SDS_CA_SUFFIX,
        SDS_PREFIX, SecretError,
    },
    protocol::Protocol,
    service::{
        DeclaredBy, Endpoint, Health, Locality, Location, Resolution, Service, ServicePort,
        WorkloadKind, WorkloadRef,
    },
    snapshot::Snapshot,
    virtual_service::istio_order,
};
