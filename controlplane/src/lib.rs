//! The mesh.rs control plane: it serves Envoy's xDS v3 to the proxies, signs their SPIFFE
//! certificates and watches Kubernetes or a directory for Istio resources.
//!
//! The binary's command line lives here, not in `main.rs`, so that tests and `meshctl` can
//! build and inspect it.

#![forbid(unsafe_code)]

mod cli;
pub mod mesh_config;
pub mod model;
pub mod store;
pub mod translate;
pub mod xds;

pub use self::cli::Args;
