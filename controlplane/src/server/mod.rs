//! The running control plane: the pieces of the crate wired together.
//!
//! - [`ControlPlane`]: starts the store and both servers, and stops them.
//! - [`Source`]: where the mesh is read from, config directories or a Kubernetes cluster.
//! - [`generator`]: the xDS server's view of the model: translation per proxy, cached per
//!   snapshot, and the announcement of each new snapshot as a config change.
//! - [`debug`]: the JSON of the `/debug` pages.
//! - [`metrics`]: the `mesh_controlplane_*` Prometheus metrics.
//! - [`monitoring`]: the HTTP server of `/ready`, `/metrics` and the `/debug` pages.

mod control_plane;
pub mod debug;
pub mod generator;
pub mod metrics;
pub mod monitoring;
mod source;

pub use self::{
    control_plane::{Config, ControlPlane, RunError, StartError},
    generator::{ModelGenerator, TranslateError, Translated, announce},
    metrics::Metrics,
    source::{KubeSource, Source},
};
