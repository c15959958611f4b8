//! The running control plane: the pieces of the crate wired together.
//!
//! - [`ControlPlane`]: starts the store and both servers, and stops them.
//! - [`Source`]: where the mesh is read from, config directories or a Kubernetes cluster.
//! - [`generator`]: the xDS server's view of the model: translation per proxy, cached per
//!   snapshot and kept across the changes that do not reach it.
//! - [`announce`] and [`affected`]: each new snapshot announced as a config change, scoped to
//!   the proxies and resource types it affects.
//! - [`debug`]: the JSON of the `/debug` pages.
//! - [`metrics`]: the `mesh_controlplane_*` Prometheus metrics.
//! - [`monitoring`]: the HTTP server of `/ready`, `/metrics` and the `/debug` pages.

pub mod affected;
mod announce;
mod control_plane;
pub mod debug;
pub mod generator;
pub mod metrics;
pub mod monitoring;
mod source;

#[cfg(test)]
mod fixtures;

pub use self::{
    announce::announce,
    control_plane::{Config, ControlPlane, RunError, StartError},
    generator::{ModelGenerator, TranslateError, Translated},
    metrics::Metrics,
    source::{KubeSource, Source},
};
