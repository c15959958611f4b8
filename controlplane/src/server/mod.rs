//! The running control plane: the pieces of the crate wired together.
//!
//! - [`ControlPlane`]: starts the file store and both servers, and stops them.
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

pub use self::{
    control_plane::{Config, ControlPlane, RunError, StartError},
    generator::{ModelGenerator, TranslateError, Translated, announce},
    metrics::Metrics,
};
