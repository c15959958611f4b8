use std::{
    fs,
    io::{Read as _, Write as _},
    net::{TcpListener, TcpStream},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc::{self, Receiver},
    },
    thread::JoinHandle,
};

use mesh_common::well_known::PROXY_UID;
use pretty_assertions::assert_eq;

use super::*;
use crate::local::{
    process,
    up::listening::{listening_ports, parse_listening},
};

const UNAVAILABLE: &str = "503 Service Unavailable";
const OK: &str = "200 OK";

/// An HTTP server on 127.0.0.1 that answers each request with the next status of its script,
/// then with the last one again while `repeat` (until dropped), and reports each request line.
struct Scripted {
    address: SocketAddr,
    requests: Receiver<String>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Scripted {
    fn serve(script: &[&'static str], repeat: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let (sender, requests) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let script = script.to_vec();
        let thread = thread::spawn({
            let stop = Arc::clone(&stop);
            move || {
                for (answered, stream) in listener.incoming().take(10_000).enumerate() {
                    let status = script.get(answered).or(script.last()).unwrap();
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let mut stream = stream.unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut request = Vec::new();
                    let mut buffer = [0; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
                        let read = stream.read(&mut buffer).unwrap();
                        if read == 0 {
                            break;
                        }
                        request.extend_from_slice(&buffer[..read]);
                    }
                    let text = String::from_utf8_lossy(&request);
                    let _ = sender.send(text.lines().next().unwrap_or_default().to_string());
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                    // Past its script, a server that does not repeat is gone: connections to it
                    // are refused.
                    if !repeat && answered + 1 == script.len() {
                        return;
                    }
                }
            }
        });
        Self {
            address,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn health(&self) -> Check {
        Check::Http {
            address: self.address,
            path: HEALTH_PATH.to_string(),
        }
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept; refused when the server has already ended.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn probe(what: &str, check: Check, process: Option<usize>, log: &Path) -> Probe {
    Probe {
        what: what.to_string(),
        check,
        process,
        log: log.to_path_buf(),
    }
}

fn within(timeout: Duration, stop: &AtomicBool) -> Wait<'_> {
    Wait {
        poll: Duration::from_millis(10),
        ..Wait::new(timeout, stop)
    }
}

#[test]
fn a_health_check_sees_503_until_the_proxy_answers_200() {
    let server = Scripted::serve(&[UNAVAILABLE, UNAVAILABLE, OK], false);
    let not_yet = Seen::NotYet(format!(
        "/healthz/ready on {} answered 503 Service Unavailable",
        server.address
    ));
    let seen: Vec<Seen> = (0..3).map(|_| check(&server.health())).collect();
    assert_eq!(seen, [not_yet.clone(), not_yet, Seen::Ready]);
    let requests: Vec<String> = server.requests.try_iter().collect();
    assert_eq!(requests, ["GET /healthz/ready HTTP/1.0"; 3]);
}

#[test]
fn the_wait_polls_through_503s_and_ends_at_the_first_200() {
    let dir = tempfile::tempdir().unwrap();
    let server = Scripted::serve(&[UNAVAILABLE, UNAVAILABLE, OK], false);
    let sidecar = probe(
        "the sidecar of web-v1",
        server.health(),
        None,
        &dir.path().join("web-v1.proxy.log"),
    );
    let stop = AtomicBool::new(false);
    wait(&[sidecar], &mut [], &within(Duration::from_secs(10), &stop)).unwrap();
    // A request after the 200 would have been refused: the script has ended.
    assert_eq!(server.requests.try_iter().count(), 3);
}

/// Waits on `what`, a process that runs `script` (already exited when `reaped`) and logs to
/// `log`, whose health check answers 503 for ever: the wait's error and the server.
fn wait_on_exiting(
    what: &str,
    role: Role,
    script: &str,
    log: &Path,
    reaped: bool,
) -> (LocalError, Scripted) {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    let (mut child, _) = process::spawn(command, "web-v1", role, log).unwrap();
    if reaped {
        child.wait().unwrap();
    }
    let server = Scripted::serve(&[UNAVAILABLE], true);
    let probe = probe(what, server.health(), Some(0), log);
    let stop = AtomicBool::new(false);
    let error = wait(
        &[probe],
        &mut [child],
        &within(Duration::from_secs(10), &stop),
    )
    .unwrap_err();
    (error, server)
}

#[test]
fn a_process_that_exits_fails_the_wait_naming_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("web-v1.proxy.log");
    let (error, _server) = wait_on_exiting(
        "the sidecar of web-v1",
        Role::Proxy,
        "echo starting; echo boom >&2; exit 3",
        &log,
        false,
    );
    assert_eq!(
        error.to_string(),
        format!(
            "the sidecar of web-v1 exited before it was ready (exit status: 3)\n\
             the end of its log, {}:\n  starting\n  boom",
            log.display()
        )
    );
}

#[test]
fn the_deadline_fails_the_wait_with_what_was_last_seen() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ingressgateway.proxy.log");
    let lines: String = (1..=12).map(|i| format!("line {i}\n")).collect();
    fs::write(&log, lines).unwrap();
    let server = Scripted::serve(&[UNAVAILABLE], true);
    let ready = Scripted::serve(&[OK], true);
    let probes = [
        probe("the sidecar of web-v1", ready.health(), None, &log),
        probe("the ingress gateway", server.health(), None, &log),
    ];
    let stop = AtomicBool::new(false);
    let started = SystemTime::now();
    let error = wait(&probes, &mut [], &within(Duration::from_millis(300), &stop)).unwrap_err();
    assert!(started.elapsed().unwrap() >= Duration::from_millis(300));
    let tail: String = (3..=12).map(|i| format!("\n  line {i}")).collect();
    assert_eq!(
        error.to_string(),
        format!(
            "the ingress gateway was not ready within 300 ms: /healthz/ready on {} answered \
             503 Service Unavailable\nthe end of its log, {}:{tail}",
            server.address,
            log.display()
        )
    );
    // The ready probe was asked once: it is not asked again.
    assert_eq!(ready.requests.try_iter().count(), 1);
}

#[test]
fn a_stop_gives_the_wait_up_after_one_look() {
    let dir = tempfile::tempdir().unwrap();
    let server = Scripted::serve(&[UNAVAILABLE], true);
    let gateway = probe(
        "the ingress gateway",
        server.health(),
        None,
        &dir.path().join("x.log"),
    );
    let stop = AtomicBool::new(true);
    let error = wait(&[gateway], &mut [], &within(Duration::from_secs(10), &stop)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "interrupted while waiting for the ingress gateway to be ready"
    );
    assert_eq!(server.requests.try_iter().count(), 1);
}

#[test]
fn an_empty_log_is_said_to_be() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("web-v1.log");
    let (error, server) = wait_on_exiting("workload web-v1", Role::Workload, "exit 0", &log, true);
    assert_eq!(
        error.to_string(),
        format!(
            "workload web-v1 exited before it was ready (exit status: 0)\nits log, {}, is empty",
            log.display()
        )
    );
    // Its exit was seen before anything was asked.
    assert_eq!(server.requests.try_iter().count(), 0);
}

#[test]
fn connect_and_running_checks() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = listener.local_addr().unwrap();
    assert_eq!(check(&Check::Connect(vec![open])), Seen::Ready);
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    assert_eq!(
        check(&Check::Connect(vec![open, closed])),
        Seen::NotYet(format!(
            "nothing accepts connections on {closed}: Connection refused (os error 111)"
        ))
    );
    assert_eq!(check(&Check::Running), Seen::Ready);
    // This process is in meshctl's own namespace: not yet in a pod's.
    let pid = std::process::id();
    assert_eq!(
        check(&Check::ListeningInPod {
            pid,
            ports: vec![open.port()]
        }),
        Seen::NotYet(format!(
            "pid {pid} has not entered its network namespace yet"
        ))
    );
}

#[test]
fn listening_sockets_are_read_from_the_socket_tables() {
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   \
                 uid  timeout inode\n   \
                 0: 00000000:2378 00000000:0000 0A 00000000:00000000 00:00000000 00000000     \
                 0        0 1001 1 0 100 0 0 10 0\n   \
                 1: 0100007F:3A98 00000000:0000 0A 00000000:00000000 00:00000000 00000000  \
                 1337        0 1002 1 0 100 0 0 10 0\n   \
                 2: 0100007F:2378 0100007F:D431 01 00000000:00000000 00:00000000 00000000     \
                 0        0 1003 1 0 20 4 30 10 -1\n";
    // 9080 listens; 15000 is the proxy user's; the third is a connection, not a listener.
    assert_eq!(
        parse_listening(table, PROXY_UID).collect::<Vec<_>>(),
        [9080]
    );
    assert_eq!(parse_listening(table, 0).collect::<Vec<_>>(), [15000]);
    let table6 = "  sl  local_address                         remote_address                        \
                  st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   \
                  0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 \
                  0A 00000000:00000000 00:00000000 00000000     0        0 2001 1 0 100 0 0 10 0\n";
    assert_eq!(
        parse_listening(table6, PROXY_UID).collect::<Vec<_>>(),
        [8080]
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ports = listening_ports(Path::new("/proc/self"), PROXY_UID).unwrap();
    assert!(ports.contains(&port), "{port} not in {ports:?}");
    drop(listener);
    let ports = listening_ports(Path::new("/proc/self"), PROXY_UID).unwrap();
    assert!(!ports.contains(&port), "{port} still in {ports:?}");
}

#[test]
fn durations_in_words_and_from_the_command_line() {
    assert_eq!(words(Duration::from_secs(60)), "60 s");
    assert_eq!(words(Duration::from_millis(300)), "300 ms");
    assert_eq!(words(Duration::from_millis(1500)), "1500 ms");
    assert_eq!(parse_timeout("90s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_timeout("250ms"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_timeout("45"), Ok(Duration::from_secs(45)));
    assert_eq!(
        parse_timeout("0s"),
        Err("the timeout must be more than 0 (--no-wait does not wait)".to_string())
    );
    assert_eq!(
        parse_timeout("1h"),
        Err("`1h` is not a duration like 250ms, 90s or 2m".to_string())
    );
    assert_eq!(
        parse_timeout("s"),
        Err("`s` is not a duration like 250ms, 90s or 2m".to_string())
    );
}

#[test]
fn the_workloads_line_says_how_each_was_told_ready() {
    assert_eq!(workloads_ready(6, 6), "6 workloads listening");
    assert_eq!(
        workloads_ready(5, 6),
        "5 workloads listening, 1 running (no ports to listen on)"
    );
    assert_eq!(
        workloads_ready(0, 2),
        "2 workloads running (no ports to listen on)"
    );
}
