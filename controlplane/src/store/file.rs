//! The file store: directories of YAML and JSON (`--config-dir`), watched and fed to the model.
//!
//! A thin shell around [`FileSet`]: it watches the directories, reads a file renamed into place
//! or closed after writing at once and lets the events that follow within the debounce window
//! settle (editors write a temporary file and rename it; `kubectl cp` and `git checkout` touch
//! many files at once; see [`events`]), rereads the files the events name (everything after a
//! lost event or a burst too large to follow), applies what changed to its [`Objects`] and
//! publishes a new [`Snapshot`] when anything did. Which objects a change touched is known only
//! once it is read: a lone change that touched endpoints alone is published at once; one that
//! touched anything else is kept in the objects (the [`FileSet`] already holds it) and
//! published with the rest of its burst at the window's trailing edge.

mod events;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use mesh_common::load::{LoadError, LoadOptions};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::Instant,
};
use tracing::{debug, info, warn};

use self::events::{Watched, settle, trail, watched};
use super::{
    Change, Window,
    file_set::{FileSet, Reread, RereadOutcome},
};
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
    /// The debounce window: a change after this long without any is read as soon as its writes
    /// are closed (and published at once if it changed endpoints alone, else with the rest of
    /// its burst); the changes that follow within it are read once the directories have been
    /// quiet this long.
    pub debounce: Duration,
    /// The longest a reload waits for a burst to end: a file rewritten without pause is still
    /// read.
    pub max_delay: Duration,
    /// Whether endpoint changes wait for the window as config changes do. Without it, a read
    /// after a quiet window that changed EndpointSlices and Pods alone is published at once.
    pub debounce_endpoints: bool,
}

/// A running file store. Dropping it stops the watch.
#[derive(Debug)]
pub struct FileStore {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    errors: watch::Receiver<Arc<[LoadError]>>,
    files_parsed: Arc<AtomicU64>,
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
    files: Option<FileSet>,
    objects: Objects,
    /// The last snapshot, which the next is built from.
    snapshot: Arc<Snapshot>,
    errors: Arc<[LoadError]>,
    files_parsed: Arc<AtomicU64>,
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
            debounce_endpoints: false,
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
                if let Some(watched) = watched(event) {
                    // The store is gone when nobody receives; nothing is left to tell.
                    let _ = events_tx.send(watched);
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

        let (files, first) = FileSet::new(&config.dirs, config.load.clone());
        let files_parsed = Arc::new(AtomicU64::new(0));
        let mut applier = Applier {
            files: Some(files),
            snapshot: Arc::new(Snapshot::build(&Objects::default(), &mesh)),
            objects: Objects::default(),
            errors: Arc::from(Vec::new()),
            files_parsed: files_parsed.clone(),
        };
        applier.apply(first);
        let (snapshots_tx, snapshots) = watch::channel(applier.snapshot());
        let (errors_tx, errors) = watch::channel(applier.errors.clone());
        let task = tokio::spawn(watch_loop(applier, config, events, snapshots_tx, errors_tx));
        Ok(Self {
            snapshots,
            errors,
            files_parsed,
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

    /// How many files were read since the store started, the first read included: a change
    /// rereads the files it touched, not the directories.
    pub fn files_parsed(&self) -> u64 {
        self.files_parsed.load(Ordering::Relaxed)
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// === impl Applier ===

impl Applier {
    /// Applies a reread; true when the model changed.
    fn apply(&mut self, reread: RereadOutcome) -> bool {
        let errors = self.files.as_ref().map(FileSet::errors).unwrap_or_default();
        for error in &errors {
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
        self.errors = Arc::from(errors);
        self.files_parsed
            .fetch_add(reread.files_parsed as u64, Ordering::Relaxed);
        let mut changed = false;
        for change in reread.changes {
            changed |= change.apply(&mut self.objects);
        }
        changed
    }

    /// Rereads what `reread` names off the runtime's workers and applies it; `None` when the
    /// files are lost (only a panic in the loader does that).
    async fn read(&mut self, reread: Reread) -> Option<Read> {
        let mut files = self.files.take()?;
        let started = Instant::now();
        // Reading the files blocks; keep it off the runtime's workers.
        let read = tokio::task::spawn_blocking(move || {
            let outcome = files.reread(reread);
            (files, outcome)
        })
        .await;
        let Ok((files, outcome)) = read else {
            // The loader does not panic; without the files, the store cannot go on.
            warn!("config directory reread failed; the store stops following changes");
            return None;
        };
        self.files = Some(files);
        let (parsed, listed) = (outcome.files_parsed, outcome.listed);
        let endpoints_only = outcome.changes.iter().all(Change::is_endpoint);
        let changes = outcome.changes.len();
        let read_ms = started.elapsed().as_secs_f64() * 1e3;
        let changed = self.apply(outcome);
        debug!(
            files_parsed = parsed,
            listed,
            changes,
            endpoints_only,
            read_ms,
            total_ms = started.elapsed().as_secs_f64() * 1e3,
            "config directory reread"
        );
        Some(Read {
            changed,
            endpoints_only,
        })
    }

    /// The next snapshot, built from the last one and the changes since.
    fn snapshot(&mut self) -> Arc<Snapshot> {
        self.snapshot = Arc::new(self.snapshot.next(&mut self.objects));
        self.snapshot.clone()
    }
}

/// What one read of the files did.
struct Read {
    /// The model changed.
    changed: bool,
    /// Every object it changed is an endpoint kind ([`Change::is_endpoint`]).
    endpoints_only: bool,
}

async fn watch_loop(
    mut applier: Applier,
    config: FileStoreConfig,
    mut events: mpsc::UnboundedReceiver<Watched>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    errors: watch::Sender<Arc<[LoadError]>>,
) {
    let mut window =
        Window::for_store(config.debounce, config.max_delay, config.debounce_endpoints);
    while let Some(first) = events.recv().await {
        let burst = window.open(Instant::now());
        let mut reread = settle(first, &mut events, &mut window, burst).await;
        let mut changed = false;
        let mut leading = burst.leading;
        loop {
            let Some(read) = applier.read(reread).await else {
                return;
            };
            changed |= read.changed;
            // A leading read goes at once when it changed endpoints alone; anything else it
            // changed is applied to the objects but published only with the rest of its
            // burst, at the trailing edge, so that config applied together lands together.
            if !leading || read.endpoints_only {
                break;
            }
            leading = false;
            match trail(&mut events, &mut window, burst).await {
                Some(rest) => reread = rest,
                None => break,
            }
        }
        errors.send_if_modified(|current| {
            let modified = *current != applier.errors;
            *current = applier.errors.clone();
            modified
        });
        if changed {
            let started = Instant::now();
            let snapshot = applier.snapshot();
            info!(version = snapshot.version(), "config directory changed");
            snapshots.send_replace(snapshot);
            debug!(
                build_ms = started.elapsed().as_secs_f64() * 1e3,
                after_first_event_ms = burst.age(Instant::now()).as_secs_f64() * 1e3,
                "snapshot published"
            );
        }
    }
}

#[cfg(test)]
mod tests;
