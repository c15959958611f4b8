//! The file watch's events, and when a burst of them is read.
//!
//! A burst after a quiet window (a leading one) is read as soon as it is whole — every write it saw closed,
//! and a path the store reads named — so that a file renamed into place, or written and
//! closed, is read at once. Reading a file mid-write is what the debounce window guards
//! against: a burst with a write not seen closed (or a platform that reports no closes), a
//! lost event, an event that does not say what changed, or a new directory (whose first files
//! may be written before the watch covers it) waits for the window to be quiet, as every burst
//! that follows a read within the window does ([`Window`]). A leading burst that changed more
//! than endpoints is held, and the rest of its burst gathered until the trailing edge
//! ([`trail`]).

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
};

use mesh_common::load::is_ignored;
use notify::{
    EventKind,
    event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode},
};
use tokio::{
    sync::mpsc,
    time::{Instant, timeout_at},
};

use crate::store::{Burst, ChangedPath, Reread, Window};

/// More changed paths than this in one burst (a checkout, a copied tree) reread everything.
const MAX_PATHS: usize = 4096;

/// What the watcher saw.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Watched {
    Paths {
        paths: Vec<ChangedPath>,
        write: Write,
    },
    /// Events were lost: only reading everything again is sure.
    Lost,
}

/// What an event says of writes to its paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Write {
    /// Being written (created, or data written): more may come until it is closed.
    Started,
    /// Written and closed, renamed or removed: no write of it is under way.
    Ended,
    /// Nothing of the writes (attributes changed, a directory made or removed).
    Unchanged,
    /// The event does not say what happened: assume a write may be under way.
    Unknown,
    /// A directory was made: files written into it before the watch covers it raise no event,
    /// so it is listed once the window is quiet, not at once.
    NewDirectory,
}

/// The paths of a burst, and whether it is whole.
#[derive(Debug)]
struct Gathered {
    /// `None` once everything must be read again.
    paths: Option<BTreeMap<PathBuf, bool>>,
    /// Paths the store reads being written, not seen closed yet.
    writing: BTreeSet<PathBuf>,
    /// An event did not say what happened, or made a directory.
    unknown: bool,
    /// A path the store may read was named (not only an editor's hidden temporary file).
    readable: bool,
}

// === impl Gathered ===

impl Gathered {
    fn new() -> Self {
        Self {
            paths: Some(BTreeMap::new()),
            writing: BTreeSet::new(),
            unknown: false,
            readable: false,
        }
    }

    fn add(&mut self, watched: Watched) {
        let (changed, write) = match (watched, &mut self.paths) {
            (
                Watched::Paths {
                    paths: changed,
                    write,
                },
                Some(paths),
            ) if paths.len() + changed.len() <= MAX_PATHS => (changed, write),
            (Watched::Paths { write, .. }, None) => {
                self.unknown |= write.waits();
                return;
            }
            _ => {
                self.paths = None;
                return;
            }
        };
        self.unknown |= write.waits();
        for changed in changed {
            let hidden = changed
                .path
                .file_name()
                .is_some_and(|name| is_ignored(&name.to_string_lossy()));
            if !hidden || changed.directory {
                self.readable = true;
                match write {
                    Write::Started => {
                        self.writing.insert(changed.path.clone());
                    }
                    Write::Ended => {
                        self.writing.remove(&changed.path);
                    }
                    Write::Unchanged | Write::Unknown | Write::NewDirectory => {}
                }
            }
            if let Some(paths) = &mut self.paths {
                *paths.entry(changed.path).or_default() |= changed.directory;
            }
        }
    }

    /// Whether it can be read now: every write seen closed, and something to read.
    fn is_whole(&self) -> bool {
        self.paths.is_some() && !self.unknown && self.writing.is_empty() && self.readable
    }

    fn into_reread(self) -> Reread {
        match self.paths {
            Some(paths) => Reread::Paths(
                paths
                    .into_iter()
                    .map(|(path, directory)| ChangedPath { path, directory })
                    .collect(),
            ),
            None => Reread::All,
        }
    }
}

// === impl Write ===

impl Write {
    /// Whether a burst with this event waits for the window to be quiet.
    fn waits(self) -> bool {
        matches!(self, Write::Unknown | Write::NewDirectory)
    }
}

/// The paths an event names, or `None` for an event that changes nothing (a read).
pub(super) fn watched(event: notify::Result<notify::Event>) -> Option<Watched> {
    let event = match event {
        Ok(event) if !event.need_rescan() => event,
        // A lost event (an overflowing queue): read everything again to be sure.
        _ => return Some(Watched::Lost),
    };
    let (directory, write) = match event.kind {
        // Reading a file must not trigger another read; only a finished write counts.
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => (false, Write::Ended),
        EventKind::Access(_) => return None,
        EventKind::Create(CreateKind::Folder) => (true, Write::NewDirectory),
        EventKind::Remove(RemoveKind::Folder) => (true, Write::Unchanged),
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => {
            (false, Write::Started)
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Any | RenameMode::Other)) => {
            (false, Write::Unknown)
        }
        EventKind::Modify(ModifyKind::Name(_)) | EventKind::Remove(_) => (false, Write::Ended),
        EventKind::Modify(ModifyKind::Metadata(_)) => (false, Write::Unchanged),
        // Not saying what happened to what: assume the worst.
        EventKind::Any | EventKind::Other if event.paths.is_empty() => {
            return Some(Watched::Lost);
        }
        EventKind::Any | EventKind::Other | EventKind::Modify(ModifyKind::Other) => {
            (true, Write::Unknown)
        }
    };
    let paths = event.paths.into_iter();
    let paths = paths.map(|path| ChangedPath { path, directory });
    Some(Watched::Paths {
        paths: paths.collect(),
        write,
    })
}

/// Gathers the burst that `first` opened, at `burst`, into what to read again: at once when
/// the burst is leading and whole, else once the window is quiet or its max delay has passed.
pub(super) async fn settle(
    first: Watched,
    events: &mut mpsc::UnboundedReceiver<Watched>,
    window: &mut Window,
    burst: Burst,
) -> Reread {
    let mut gathered = Gathered::new();
    gathered.add(first);
    loop {
        // The events that came with the first (a rename is two or three).
        while Instant::now() < window.deadline(&burst)
            && let Ok(watched) = events.try_recv()
        {
            window.add(Instant::now());
            gathered.add(watched);
        }
        if (burst.leading && gathered.is_whole()) || Instant::now() >= window.due(&burst) {
            break;
        }
        match timeout_at(window.due(&burst), events.recv()).await {
            Ok(Some(watched)) => {
                window.add(Instant::now());
                gathered.add(watched);
            }
            _ => break,
        }
    }
    gathered.into_reread()
}

/// Gathers the rest of `burst` after its leading read was held back (it changed more than
/// endpoints): what comes until the window is quiet or the burst's max delay has passed, read
/// with it at the trailing edge; `None` when nothing came.
pub(super) async fn trail(
    events: &mut mpsc::UnboundedReceiver<Watched>,
    window: &mut Window,
    burst: Burst,
) -> Option<Reread> {
    let mut gathered: Option<Gathered> = None;
    // Bounded by the burst's deadline: `due` never passes it.
    while Instant::now() < window.due(&burst)
        && let Ok(Some(watched)) = timeout_at(window.due(&burst), events.recv()).await
    {
        window.add(Instant::now());
        gathered.get_or_insert_with(Gathered::new).add(watched);
    }
    gathered.map(Gathered::into_reread)
}

#[cfg(test)]
mod tests;
