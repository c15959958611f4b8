//! Open connections, counted so that drain can wait for them and cut off the ones that outlive
//! the grace period.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::sync::watch;

/// Spawns connection tasks and counts the ones still running.
#[derive(Clone, Debug)]
pub(super) struct Tracker {
    open: Arc<watch::Sender<usize>>,
    abort: watch::Receiver<bool>,
}

/// Ends every tracked connection at once, when the grace period is over.
#[derive(Debug)]
pub(super) struct Abort(watch::Sender<bool>);

/// Decrements the count when its task ends, however it ends.
struct Open(Arc<watch::Sender<usize>>);

// === impl Tracker ===

impl Tracker {
    pub(super) fn new() -> (Self, Abort) {
        let (abort_tx, abort) = watch::channel(false);
        let tracker = Self {
            open: Arc::new(watch::Sender::new(0)),
            abort,
        };
        (tracker, Abort(abort_tx))
    }

    /// Runs `connection` on its own task, counted until it finishes or is aborted.
    pub(super) fn spawn(&self, connection: impl Future<Output = ()> + Send + 'static) {
        self.open.send_modify(|open| *open += 1);
        let open = Open(Arc::clone(&self.open));
        let mut abort = self.abort.clone();
        tokio::spawn(async move {
            let _open = open;
            tokio::select! {
                () = connection => {}
                // A dropped `Abort` (the data plane dropped without draining) is not an abort.
                Ok(_) = abort.wait_for(|aborted| *aborted) => {}
            }
        });
    }

    /// How many connections are open.
    pub(super) fn open(&self) -> usize {
        *self.open.borrow()
    }

    /// Waits until no connection is open, for at most `grace`; true when none is.
    pub(super) async fn wait_closed(&self, grace: Duration) -> bool {
        let mut open = self.open.subscribe();
        tokio::time::timeout(grace, open.wait_for(|open| *open == 0))
            .await
            .is_ok()
    }
}

// === impl Abort ===

impl Abort {
    pub(super) fn abort(&self) {
        self.0.send_replace(true);
    }
}

// === impl Open ===

impl Drop for Open {
    fn drop(&mut self) {
        self.0.send_modify(|open| *open = open.saturating_sub(1));
    }
}
