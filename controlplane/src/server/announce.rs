//! [`announce`]: each new model snapshot, told to the xDS server as a change with its scope.

use std::{future::Future, sync::Arc};

use tokio::sync::watch;

use super::{affected, generator::ModelGenerator};
use crate::{
    model::{Diff, Snapshot},
    xds::{Changed, Scope, StatusRegistry},
};

/// Announces each snapshot `snapshots` has not seen yet on `changes`, scoped to the proxies
/// and resource types it affects ([`affected::scope`]), and trims `generator`'s cache to the
/// proxies `status` lists. A snapshot that changes nothing a proxy is configured from is not
/// announced. Returns when the store is gone.
///
/// The snapshot `snapshots` holds when this is called — not when the future first runs — is
/// the first one compared with, so that a snapshot published in between is announced too.
/// Each snapshot is compared with the one before it, so a snapshot the `watch` skipped is
/// covered by the next comparison. The scope is recorded in `generator` before the change is
/// published, so that the streams it wakes find the translations it did not reach kept.
pub fn announce(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    changes: watch::Sender<Changed>,
    generator: Arc<ModelGenerator>,
    status: Arc<StatusRegistry>,
) -> impl Future<Output = ()> + Send + 'static {
    let last = snapshots.borrow_and_update().clone();
    run(last, snapshots, changes, generator, status)
}

async fn run(
    mut last: Arc<Snapshot>,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    changes: watch::Sender<Changed>,
    generator: Arc<ModelGenerator>,
    status: Arc<StatusRegistry>,
) {
    while snapshots.changed().await.is_ok() {
        let snapshot = snapshots.borrow_and_update().clone();
        let connected = status
            .snapshot()
            .proxies
            .into_iter()
            .map(|proxy| proxy.node_id)
            .collect();
        generator.retain(&connected);
        let diff = Diff::between(&last, &snapshot);
        let scope = affected::scope(&last, &snapshot, &diff);
        generator.metrics().config_changed(scope_kind(&scope));
        generator.record(last.version(), snapshot.version(), scope.clone());
        tracing::debug!(
            from = last.version(),
            to = snapshot.version(),
            objects = diff.objects().len(),
            scope = scope_kind(&scope),
            "config changed"
        );
        last = snapshot;
        if scope.is_empty() {
            continue;
        }
        changes.send_modify(|changed| {
            changed.version += 1;
            changed.scope = scope;
        });
    }
}

/// The label of `mesh_controlplane_config_changes_total`.
fn scope_kind(scope: &Scope) -> &'static str {
    match scope {
        Scope::All => "all",
        _ if scope.is_empty() => "none",
        _ => "scoped",
    }
}

#[cfg(test)]
mod tests;
