//! The mesh.rs control plane: it serves Envoy's xDS v3 to the proxies, signs their SPIFFE
//! certificates and watches Kubernetes or a directory for Istio resources.
//!
//! The binary's command line lives here, not in `main.rs`, so that tests and `meshctl` can
//! build and inspect it. `mesh-controlplane run` is [`run`]; tests start the same control
//! plane in-process with [`server::ControlPlane::start`], on ports they let the system pick.

#![forbid(unsafe_code)]

mod cli;
pub mod mesh_config;
pub mod model;
pub mod server;
pub mod store;
pub mod translate;
pub mod xds;

pub use self::cli::{Args, CliError, Command, LogFormat, RunArgs, execute, parse_duration, run};
