//! The stores that feed the model: what the config directories or the Kubernetes API say,
//! written into [`crate::model::Objects`] and published as snapshots.

mod file;
pub mod kube;
mod reconcile;

pub use self::{
    file::{FileStore, FileStoreConfig, FileStoreError},
    reconcile::{Change, PerFileState, Reconciled, reconcile},
};
