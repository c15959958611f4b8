use std::{
    fs::{self, OpenOptions},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver, RecvTimeoutError, Sender},
    },
    time::SystemTime,
};

use pretty_assertions::assert_eq;

use super::*;
use crate::local::{
    LocalMesh,
    plan::{LOOPBACK_NETWORK, Plan},
    spec::parse,
};

/// How long a test waits for the follower to print what it should.
const PATIENCE: Duration = Duration::from_secs(10);

/// An output that hands each write to the test, so that it can wait for what it expects.
struct Sent(Sender<Vec<u8>>);

impl Write for Sent {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .send(buf.to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Receives writes into `got` until it is `want`, failing on anything else or after
/// [`PATIENCE`].
fn receive(writes: &Receiver<Vec<u8>>, got: &mut String, want: &str) {
    let deadline = SystemTime::now() + PATIENCE;
    while got.as_str() != want {
        assert!(
            want.starts_with(got.as_str()),
            "printed {got:?}, want {want:?}"
        );
        let left = deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        match writes.recv_timeout(left) {
            Ok(write) => got.push_str(&String::from_utf8(write).unwrap()),
            Err(e) => panic!("printed {got:?}, want {want:?}: {e}"),
        }
    }
}

fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

fn tail(text: &str, lines: usize) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.log");
    fs::write(&path, text).unwrap();
    let mut file = File::open(&path).unwrap();
    let offset = tail_offset(&mut file, lines).unwrap();
    let mut out = Vec::new();
    copy_new(&mut file, offset, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn tail_starts_at_the_last_lines() {
    assert_eq!(tail("a\nb\nc\n", 0), "");
    assert_eq!(tail("a\nb\nc\n", 1), "c\n");
    assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
    assert_eq!(tail("a\nb\nc\n", 3), "a\nb\nc\n");
    assert_eq!(tail("a\nb\nc\n", 10), "a\nb\nc\n");
    // A last line still being written counts as a line.
    assert_eq!(tail("a\nb\nc", 1), "c");
    assert_eq!(tail("a\nb\nc", 2), "b\nc");
    assert_eq!(tail("\n\n", 1), "\n");
    assert_eq!(tail("", 1), "");
}

#[test]
fn tail_reads_back_across_blocks() {
    // 2 000 lines of 100 bytes: three blocks of 64 KiB and more.
    let text: String = (0..2_000).map(|i| format!("{i:099}\n")).collect();
    assert_eq!(
        tail(&text, 3),
        format!("{:099}\n{:099}\n{:099}\n", 1_997, 1_998, 1_999)
    );
    let lines = 700;
    assert_eq!(tail(&text, lines), text[(2_000 - lines) * 100..]);
}

#[test]
fn the_last_lines_of_a_log_for_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web-v1.log");
    let text: String = (1..=12).map(|i| format!("line {i}\n")).collect();
    fs::write(&path, text).unwrap();
    assert_eq!(
        last_lines(&path, 10),
        "line 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\nline 10\nline 11\nline 12"
    );
    assert_eq!(last_lines(&dir.path().join("missing.log"), 10), "");
}

#[test]
fn follow_prints_what_is_appended_until_the_process_exited_and_the_log_is_drained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web-v1.log");
    fs::write(&path, "one\ntwo\n").unwrap();
    let exited = Arc::new(AtomicBool::new(false));
    let (sender, writes) = mpsc::channel();
    let follower = std::thread::spawn({
        let (path, exited) = (path.clone(), Arc::clone(&exited));
        move || {
            let mut file = File::open(&path)?;
            let offset = tail_offset(&mut file, 1)?;
            let running = || !exited.load(Ordering::SeqCst);
            follow(
                &mut file,
                offset,
                &mut Sent(sender),
                running,
                Duration::from_millis(10),
            )
        }
    });
    let mut got = String::new();
    receive(&writes, &mut got, "two\n");
    append(&path, "three\nfou");
    receive(&writes, &mut got, "two\nthree\nfou");
    // Written just before the process exits: printed all the same.
    append(&path, "r\nfive\n");
    exited.store(true, Ordering::SeqCst);
    receive(&writes, &mut got, "two\nthree\nfour\nfive\n");
    // Then following ends, dropping its output.
    assert_eq!(
        writes.recv_timeout(PATIENCE),
        Err(RecvTimeoutError::Disconnected)
    );
    follower.join().unwrap().unwrap();
}

#[test]
fn a_truncated_log_is_followed_from_its_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web-v1.log");
    fs::write(&path, "old\nlines\n").unwrap();
    let mut file = File::open(&path).unwrap();
    fs::write(&path, "new\n").unwrap();
    let mut out = Vec::new();
    follow(&mut file, 10, &mut out, || false, Duration::from_millis(10)).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "new\n");
}

fn state_with_log(log: PathBuf) -> State {
    let text = "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\n\
                workloads: [{name: web-v1, command: [x]}]\n";
    let file = parse(text, Path::new("m.yaml")).unwrap();
    let mesh = LocalMesh::merge(vec![(PathBuf::from("m.yaml"), file)]).unwrap();
    State {
        plan: Plan::explicit(&mesh, "t", LOOPBACK_NETWORK).unwrap(),
        mesh: true,
        forward_rule: None,
        processes: vec![ProcessRecord {
            name: "web-v1".to_string(),
            role: Role::Workload,
            // This test's own pid with a start time it never had: a process that has exited
            // and whose pid was taken again.
            pid: std::process::id(),
            start_time: 1,
            log,
            admin: None,
        }],
        monitoring: None,
        gateway: None,
    }
}

#[test]
fn logs_of_an_exited_workload_follow_to_the_end_and_return() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("web-v1.log");
    fs::write(&path, "a\nb\nc\n").unwrap();
    let state = state_with_log(path);
    let print = |options: LogsOptions| {
        let mut out = Vec::new();
        logs(&state, "web-v1", options, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(print(LogsOptions::default()), "a\nb\nc\n");
    let options = LogsOptions {
        follow: true,
        tail: Some(2),
        ..LogsOptions::default()
    };
    assert_eq!(print(options), "b\nc\n");
    let proxy = LogsOptions {
        proxy: true,
        ..LogsOptions::default()
    };
    assert_eq!(
        logs(&state, "web-v1", proxy, &mut Vec::new())
            .unwrap_err()
            .to_string(),
        "no workload web-v1 in this mesh (there are: web-v1)"
    );
}
