//! The stores that feed the model: what the config directories or the Kubernetes API say,
//! written into [`crate::model::Objects`] and published as snapshots.

mod file;
mod file_set;
pub mod kube;
mod reconcile;
mod window;

pub use self::{
    file::{FileStore, FileStoreConfig, FileStoreError},
    file_set::{ChangedPath, FileSet, Reread, RereadOutcome},
    reconcile::{Change, PerFileState, Reconciled, reconcile},
    window::{Burst, Window, is_endpoint_kind},
};
