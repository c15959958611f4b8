//! The file store: directories of YAML and JSON (`--config-dir`), watched and fed to the model.
//!
//! A thin shell around [`reconcile`]: it watches the directories, lets a burst of file events
//! settle (editors write a temporary file and rename it; `kubectl cp` and `git checkout` touch
//! many files at once), reloads every directory, applies what changed to its [`Objects`] and
//! publishes a new [`Snapshot`] when anything did.

use std::{path::PathBuf, sync::Arc, time::Duration};

use mesh_common::load::{LoadError, LoadOptions, LoadResult, Loader};
use notify::{
    EventKind, RecommendedWatcher, RecursiveMode, Watcher,
    event::{AccessKind, AccessMode},
};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::{Instant, timeout_at},
};
use tracing::{info, warn};

use super::reconcile::{PerFileState, reconcile};
use crate::{
    mesh_config::MeshConfig,
    model::{Objects, Snapshot},
};

/// How the file store reads and watches its directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStoreConfig {
    /// The directories to read, each with its subdirectories.
    pub dirs: Vec<PathBuf>,
    pub load: LoadOptions,
    /// How long the directories must be quiet before a burst of changes is read.
    pub debounce: Duration,
    /// The longest a reload waits for a burst to end: a file rewritten without pause is still
    /// read.
    pub max_delay: Duration,
}

/// A running file store. Dropping it stops the watch.
#[derive(Debug)]
pub struct FileStore {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    errors: watch::Receiver<Arc<[LoadError]>>,
    // Kept so that the watch lasts as long as the store.
    _watcher: RecommendedWatcher,
    task: JoinHandle<()>,
}

/// Why the file store could not start.
#[derive(Debug, thiserror::Error)]
pub enum FileStoreError {
    #[error("cannot watch {}: {source}", dir.display())]
    Watch {
        dir: PathBuf,
        #[source]
        source: notify::Error,
    },
}

/// The state the watch task carries from one reload to the next.
#[derive(Debug)]
struct Applier {
    dirs: Vec<PathBuf>,
    load: LoadOptions,
    mesh: MeshConfig,
    objects: Objects,
    state: PerFileState,
    errors: Arc<[LoadError]>,
}

// === impl FileStoreConfig ===

impl FileStoreConfig {
    /// Watches `dirs` with the default load options and a 100 ms debounce.
    pub fn new(dirs: Vec<PathBuf>) -> Self {
        Self {
            dirs,
            load: LoadOptions::default(),
            debounce: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        }
    }
}

// === impl FileStore ===

impl FileStore {
    /// Starts watching, reads the directories once and publishes their snapshot. Must be called
    /// within a Tokio runtime.
    pub fn start(config: FileStoreConfig, mesh: MeshConfig) -> Result<Self, FileStoreError> {
        let (events_tx, events) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let relevant = match &event {
                    // Reading a file must not trigger another read; only a finished write counts.
                    Ok(e) => match e.kind {
                        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                        EventKind::Access(_) => false,
                        _ => true,
                    },
                    // A lost event (an overflowing queue): read everything again to be sure.
                    Err(_) => true,
                };
                if relevant {
                    // The store is gone when nobody receives; nothing is left to tell.
                    let _ = events_tx.send(());
                }
            })
            .map_err(|source| FileStoreError::Watch {
                dir: config.dirs.first().cloned().unwrap_or_default(),
                source,
            })?;
        // Watch before the first read, so that no change between the two is missed.
        for dir in &config.dirs {
            watcher
                .watch(dir, RecursiveMode::Recursive)
                .map_err(|source| FileStoreError::Watch {
                    dir: dir.clone(),
                    source,
                })?;
        }

        let mut applier = Applier {
            dirs: config.dirs.clone(),
            load: config.load.clone(),
            mesh,
            objects: Objects::default(),
            state: PerFileState::default(),
            errors: Arc::from(Vec::new()),
        };
        applier.apply(load(&applier.dirs, applier.load.clone()));
        let (snapshots_tx, snapshots) = watch::channel(Arc::new(applier.snapshot()));
        let (errors_tx, errors) = watch::channel(applier.errors.clone());
        let task = tokio::spawn(watch_loop(applier, config, events, snapshots_tx, errors_tx));
        Ok(Self {
            snapshots,
            errors,
            _watcher: watcher,
            task,
        })
    }

    /// The latest snapshot, and every one after it: a new one is published after each reload
    /// that changed anything.
    pub fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// The errors of the latest reload, for `/debug/config_status`.
    pub fn errors(&self) -> Arc<[LoadError]> {
        self.errors.borrow().clone()
    }

    /// The errors of each reload, as they change.
    pub fn watch_errors(&self) -> watch::Receiver<Arc<[LoadError]>> {
        self.errors.clone()
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// === impl Applier ===

impl Applier {
    /// Applies a load; true when the model changed.
    fn apply(&mut self, loaded: LoadResult) -> bool {
        let reconciled = reconcile(&self.state, loaded);
        for error in reconciled.errors.iter() {
            // Each error once, when it appears, not again on every reload until it is fixed.
            if !self.errors.contains(error) {
                warn!(
                    file = %error.origin.file.display(),
                    line = error.origin.line,
                    kind = error.kind.as_deref().unwrap_or_default(),
                    namespace = error.namespace.as_deref().unwrap_or_default(),
                    name = error.name.as_deref().unwrap_or_default(),
                    reason = %error.reason,
                    "config file error: {error}"
                );
            }
        }
        self.errors = Arc::from(reconciled.errors);
        self.state = reconciled.state;
        let mut changed = false;
        for change in reconciled.changes {
            changed |= change.apply(&mut self.objects);
        }
        changed
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot::build(&self.objects, &self.mesh)
    }
}

async fn watch_loop(
    mut applier: Applier,
    config: FileStoreConfig,
    mut events: mpsc::UnboundedReceiver<()>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    errors: watch::Sender<Arc<[LoadError]>>,
) {
    while events.recv().await.is_some() {
        settle(&mut events, config.debounce, config.max_delay).await;
        // Reading the files blocks; keep it off the runtime's workers.
        let (dirs, options) = (applier.dirs.clone(), applier.load.clone());
        let loaded = tokio::task::spawn_blocking(move || load(&dirs, options)).await;
        let Ok(loaded) = loaded else {
            // Only a panic in the loader gets here, and the loader does not panic; the next
            // event tries again.
            continue;
        };
        let changed = applier.apply(loaded);
        errors.send_if_modified(|current| {
            let modified = *current != applier.errors;
            *current = applier.errors.clone();
            modified
        });
        if changed {
            let snapshot = Arc::new(applier.snapshot());
            info!(version = snapshot.version(), "config directory changed");
            snapshots.send_replace(snapshot);
        }
    }
}

/// Reads every directory as one load, so that an object defined in two of them is reported.
fn load(dirs: &[PathBuf], options: LoadOptions) -> LoadResult {
    let mut loader = Loader::new(options);
    for dir in dirs {
        loader.add_path(dir);
    }
    loader.finish()
}

/// Waits until no event has come for `debounce`, or `max_delay` has passed.
async fn settle(events: &mut mpsc::UnboundedReceiver<()>, debounce: Duration, max_delay: Duration) {
    let deadline = Instant::now() + max_delay;
    loop {
        let quiet_until = (Instant::now() + debounce).min(deadline);
        match timeout_at(quiet_until, events.recv()).await {
            Ok(Some(())) if Instant::now() < deadline => continue,
            _ => return,
        }
    }
}
