//! Which events make a burst whole, and when a burst is read, on tokio's paused clock.

use std::time::Duration;

use notify::{
    Event,
    event::{DataChange, MetadataKind},
};
use pretty_assertions::assert_eq;

use super::*;

const QUIET: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn event(kind: EventKind, paths: &[&str]) -> Watched {
    let event = paths
        .iter()
        .fold(Event::new(kind), |e, p| e.add_path(PathBuf::from(p)));
    watched(Ok(event)).expect("an event that counts")
}

fn paths(write: Write, directory: bool, paths: &[&str]) -> Watched {
    Watched::Paths {
        paths: paths
            .iter()
            .map(|p| ChangedPath {
                path: PathBuf::from(p),
                directory,
            })
            .collect(),
        write,
    }
}

fn created(path: &str) -> Watched {
    event(EventKind::Create(CreateKind::File), &[path])
}

fn written(path: &str) -> Watched {
    event(
        EventKind::Modify(ModifyKind::Data(DataChange::Any)),
        &[path],
    )
}

fn closed(path: &str) -> Watched {
    event(
        EventKind::Access(AccessKind::Close(AccessMode::Write)),
        &[path],
    )
}

fn renamed(mode: RenameMode, paths: &[&str]) -> Watched {
    event(EventKind::Modify(ModifyKind::Name(mode)), paths)
}

/// What a save through a hidden temporary file gives, as inotify reports it.
fn rename_into_place() -> Vec<Watched> {
    vec![
        created("/d/.x.yaml.tmp"),
        written("/d/.x.yaml.tmp"),
        closed("/d/.x.yaml.tmp"),
        renamed(RenameMode::From, &["/d/.x.yaml.tmp"]),
        renamed(RenameMode::To, &["/d/x.yaml"]),
        renamed(RenameMode::Both, &["/d/.x.yaml.tmp", "/d/x.yaml"]),
    ]
}

fn to_read(paths: &[(&str, bool)]) -> Reread {
    Reread::Paths(
        paths
            .iter()
            .map(|(p, directory)| ChangedPath {
                path: PathBuf::from(p),
                directory: *directory,
            })
            .collect(),
    )
}

/// Settles the burst `events` opens on a quiet window, each event sent at its offset (ms from
/// now); returns what to read and how long after the first event it was read.
async fn settle_at(events: Vec<(u64, Watched)>) -> (Reread, Duration) {
    let mut window = Window::new(QUIET, MAX);
    settle_in(&mut window, events).await
}

async fn settle_in(window: &mut Window, events: Vec<(u64, Watched)>) -> (Reread, Duration) {
    let start = Instant::now();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut events = events.into_iter();
    let (first_at, first) = events.next().expect("a first event");
    assert_eq!(first_at, 0, "the burst opens with its first event");
    tokio::spawn(async move {
        for (offset, watched) in events {
            tokio::time::sleep_until(start + ms(offset)).await;
            // The burst may be read before the last event is sent.
            let _ = tx.send(watched);
        }
        // Held until long after any burst is read: a closed channel ends a burst at once.
        tokio::time::sleep_until(start + Duration::from_secs(60)).await;
    });
    let burst = window.open(start);
    let reread = settle(first, &mut rx, window, burst).await;
    (reread, start.elapsed())
}

#[test]
fn events_say_what_they_do_to_writes() {
    assert_eq!(
        created("/d/x.yaml"),
        paths(Write::Started, false, &["/d/x.yaml"])
    );
    assert_eq!(
        written("/d/x.yaml"),
        paths(Write::Started, false, &["/d/x.yaml"])
    );
    assert_eq!(
        closed("/d/x.yaml"),
        paths(Write::Ended, false, &["/d/x.yaml"])
    );
    assert_eq!(
        renamed(RenameMode::Both, &["/d/a.yaml", "/d/b.yaml"]),
        paths(Write::Ended, false, &["/d/a.yaml", "/d/b.yaml"])
    );
    assert_eq!(
        event(EventKind::Remove(RemoveKind::File), &["/d/x.yaml"]),
        paths(Write::Ended, false, &["/d/x.yaml"])
    );
    assert_eq!(
        event(EventKind::Create(CreateKind::Folder), &["/d/sub"]),
        paths(Write::NewDirectory, true, &["/d/sub"])
    );
    assert_eq!(
        event(EventKind::Remove(RemoveKind::Folder), &["/d/sub"]),
        paths(Write::Unchanged, true, &["/d/sub"])
    );
    assert_eq!(
        event(
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Permissions)),
            &["/d/x.yaml"]
        ),
        paths(Write::Unchanged, false, &["/d/x.yaml"])
    );
    assert_eq!(
        event(EventKind::Other, &["/d/x.yaml"]),
        paths(Write::Unknown, true, &["/d/x.yaml"])
    );
    assert_eq!(
        watched(Ok(Event::new(EventKind::Other))),
        Some(Watched::Lost)
    );
    let read = EventKind::Access(AccessKind::Close(AccessMode::Read));
    assert_eq!(
        watched(Ok(Event::new(read).add_path("/d/x.yaml".into()))),
        None
    );
}

#[tokio::test(start_paused = true)]
async fn a_file_renamed_into_place_is_read_at_once() {
    let events = rename_into_place().into_iter().map(|e| (0, e)).collect();
    let (reread, after) = settle_at(events).await;
    assert_eq!(after, Duration::ZERO);
    assert_eq!(reread, reread_of_rename());
}

fn reread_of_rename() -> Reread {
    to_read(&[("/d/.x.yaml.tmp", false), ("/d/x.yaml", false)])
}

#[tokio::test(start_paused = true)]
async fn a_rename_is_read_when_it_comes_not_at_the_temporary_file() {
    // The temporary file is written over 30 ms: its events alone name nothing to read.
    let offsets = [0, 10, 30, 30, 30, 30];
    let events = offsets.into_iter().zip(rename_into_place()).collect();
    let (reread, after) = settle_at(events).await;
    assert_eq!(after, ms(30));
    assert_eq!(reread, reread_of_rename());
}

#[tokio::test(start_paused = true)]
async fn a_file_written_in_place_is_read_when_closed() {
    let events = vec![
        (0, written("/d/x.yaml")),
        (5, written("/d/x.yaml")),
        (20, closed("/d/x.yaml")),
    ];
    let (reread, after) = settle_at(events).await;
    assert_eq!(after, ms(20));
    assert_eq!(reread, to_read(&[("/d/x.yaml", false)]));
}

#[tokio::test(start_paused = true)]
async fn a_write_never_seen_closed_waits_for_a_quiet_window() {
    let events = vec![
        (0, created("/d/x.yaml")),
        (30, written("/d/x.yaml")),
        // Another file closes, but x.yaml is still being written.
        (40, created("/d/y.yaml")),
        (50, closed("/d/y.yaml")),
    ];
    let (reread, after) = settle_at(events).await;
    assert_eq!(after, ms(150));
    assert_eq!(
        reread,
        to_read(&[("/d/x.yaml", false), ("/d/y.yaml", false)])
    );
}

#[tokio::test(start_paused = true)]
async fn hidden_files_alone_a_new_directory_or_a_lost_event_wait_for_a_quiet_window() {
    let swap = vec![
        (0, written("/d/.x.yaml.swp")),
        (20, closed("/d/.x.yaml.swp")),
    ];
    let (reread, after) = settle_at(swap).await;
    assert_eq!(after, ms(120));
    assert_eq!(reread, to_read(&[("/d/.x.yaml.swp", false)]));

    let made = event(EventKind::Create(CreateKind::Folder), &["/d/sub"]);
    let new_directory = vec![(0, made), (10, closed("/d/sub/x.yaml"))];
    let (reread, after) = settle_at(new_directory).await;
    assert_eq!(after, ms(110));
    assert_eq!(
        reread,
        to_read(&[("/d/sub", true), ("/d/sub/x.yaml", false)])
    );

    let lost = vec![(0, Watched::Lost), (10, closed("/d/x.yaml"))];
    let (reread, after) = settle_at(lost).await;
    assert_eq!(after, ms(110));
    assert_eq!(reread, Reread::All);
}

#[tokio::test(start_paused = true)]
async fn a_burst_after_a_read_within_the_window_waits_for_it_to_be_quiet_or_the_max() {
    let mut window = Window::new(QUIET, MAX);
    let (_, after) = settle_in(&mut window, vec![(0, closed("/d/a.yaml"))]).await;
    assert_eq!(after, Duration::ZERO);
    // 10 ms later: the trailing edge, 100 ms after the burst's last event.
    tokio::time::sleep(ms(10)).await;
    let burst = vec![(0, closed("/d/b.yaml")), (40, closed("/d/c.yaml"))];
    let (reread, after) = settle_in(&mut window, burst).await;
    assert_eq!(after, ms(140));
    assert_eq!(
        reread,
        to_read(&[("/d/b.yaml", false), ("/d/c.yaml", false)])
    );
    // The window after that burst was quiet: the next change is read at once again.
    let (_, after) = settle_in(&mut window, vec![(0, closed("/d/a.yaml"))]).await;
    assert_eq!(after, Duration::ZERO);
    // 10 ms later, a change every 50 ms: never quiet, read at the max, 1 s after the first.
    tokio::time::sleep(ms(10)).await;
    let churn = (0..40).map(|n| (n * 50, closed("/d/d.yaml"))).collect();
    let (reread, after) = settle_in(&mut window, churn).await;
    assert_eq!(after, MAX);
    assert_eq!(reread, to_read(&[("/d/d.yaml", false)]));
}
