//! Istio's traffic and security resources as Rust types.
//!
//! The serde names are exactly those of Istio's YAML, so users bring their resources unchanged.
//! Each kind is a `kube::CustomResource`; Istio serves the same schema under several API versions
//! (`networking.istio.io/v1`, `v1beta1`, `v1alpha3`; `security.istio.io/v1`, `v1beta1`), and so do
//! we: [`Kind::from_type_meta`] accepts each of them and [`crds`] serves each of them.
//!
//! Fields that a document sets but that these types do not know are never dropped silently:
//! [`decode`] returns them with their paths so that validation and `meshctl analyze` name them.

mod authorization_policy;
mod common;
mod crd;
mod destination_rule;
mod gateway;
mod peer_authentication;
mod request_authentication;
mod resource;
mod service_entry;
mod sidecar;
mod telemetry;
mod virtual_service;
mod workload_entry;

pub use self::{
    authorization_policy::*, common::*, crd::crds, destination_rule::*, gateway::*,
    peer_authentication::*, request_authentication::*, resource::*, service_entry::*, sidecar::*,
    telemetry::*, virtual_service::*, workload_entry::*,
};
