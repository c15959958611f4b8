//! Waiting until what `up` started is ready: each sidecar and the gateway answer 200 on
//! `/healthz/ready` (mesh-proxy's readiness: its listeners bound and its first configuration
//! from the control plane applied), each workload accepts connections on its ports. A process
//! that exits meanwhile fails the wait at once, the deadline a little later; either error names
//! the process and its log, and shows the log's last lines.
//!
//! Nothing tells meshctl when another process is ready, so it looks again every [`POLL`] until
//! the deadline.

use std::{
    io::{self, Read as _, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, ExitStatus},
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, SystemTime},
};

use mesh_common::well_known::proxy_ports;

use super::{GATEWAY_ADDRESS, GATEWAY_HEALTH, GATEWAY_NAME, Running, listening, step};
use crate::local::{LocalError, logs::last_lines, plan::Mode, spec::LocalMesh, state::Role};

/// How often a check is made again.
pub const POLL: Duration = Duration::from_millis(100);
/// How many lines of a log an error shows.
pub const LOG_LINES: usize = 10;
/// mesh-proxy's readiness endpoint on its health port.
pub const HEALTH_PATH: &str = "/healthz/ready";
/// How long one connection attempt may take: everything is on this machine.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// How long an HTTP answer may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(1);
/// The most read of an answer: its status line is all that counts.
const MOST_READ: usize = 4096;

/// One thing to wait for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    /// What it is, as errors name it: `the sidecar of details-v1`.
    pub what: String,
    pub check: Check,
    /// Its process, by index among the children, so that its exit ends the wait.
    pub process: Option<usize>,
    /// Its process's log, which errors point at.
    pub log: PathBuf,
}

/// How readiness is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// `GET path` on `address` answers 200.
    Http { address: SocketAddr, path: String },
    /// Every address accepts a TCP connection.
    Connect(Vec<SocketAddr>),
    /// Process `pid`, once in a network namespace of its own, listens on each of `ports` there.
    ListeningInPod { pid: u32, ports: Vec<u16> },
    /// Its process runs: nothing more can be told.
    Running,
}

/// What one check saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    Ready,
    /// Not ready, and what was seen instead.
    NotYet(String),
}

/// How long a wait may last, and what cuts it short.
#[derive(Clone, Copy, Debug)]
pub struct Wait<'a> {
    /// What the deadline was set from, for the error's words.
    pub timeout: Duration,
    pub deadline: SystemTime,
    /// How often to look again.
    pub poll: Duration,
    /// Set (by Ctrl-C) to give up.
    pub stop: &'a AtomicBool,
}

// === impl Wait ===

impl<'a> Wait<'a> {
    /// A wait of `timeout` from now, polling every [`POLL`], given up when `stop` is set.
    pub fn new(timeout: Duration, stop: &'a AtomicBool) -> Self {
        Self {
            timeout,
            deadline: SystemTime::now() + timeout,
            poll: POLL,
            stop,
        }
    }
}

/// Waits until every probe is ready. Fails as soon as a probe's process has exited, when
/// `wait.stop` is set, or once the deadline has passed with a probe still not ready (the first
/// of them is named, with what its last check saw).
pub fn wait(probes: &[Probe], children: &mut [Child], wait: &Wait<'_>) -> Result<(), LocalError> {
    let mut pending: Vec<&Probe> = probes.iter().collect();
    loop {
        let mut not_ready = Vec::new();
        for probe in pending {
            if let Some(status) = probe.process.and_then(|index| exited(children, index)) {
                return Err(LocalError::Exited {
                    what: probe.what.clone(),
                    status: status.to_string(),
                    log: probe.log.clone(),
                    tail: last_lines(&probe.log, LOG_LINES),
                });
            }
            if let Seen::NotYet(reason) = check(&probe.check) {
                not_ready.push((probe, reason));
            }
        }
        let Some((first, reason)) = not_ready.first() else {
            return Ok(());
        };
        if wait.stop.load(Ordering::SeqCst) {
            return Err(LocalError::Interrupted {
                what: first.what.clone(),
            });
        }
        let left = wait.deadline.duration_since(SystemTime::now());
        let Some(left) = left.ok().filter(|left| !left.is_zero()) else {
            return Err(LocalError::NotReady {
                what: first.what.clone(),
                timeout: wait.timeout,
                reason: reason.clone(),
                log: first.log.clone(),
                tail: last_lines(&first.log, LOG_LINES),
            });
        };
        thread::sleep(wait.poll.min(left));
        pending = not_ready.into_iter().map(|(probe, _)| probe).collect();
    }
}

/// The exit status of child `index`, once it has exited.
fn exited(children: &mut [Child], index: usize) -> Option<ExitStatus> {
    children
        .get_mut(index)
        .and_then(|child| child.try_wait().ok().flatten())
}

/// Makes `check` once.
pub fn check(check: &Check) -> Seen {
    match check {
        Check::Http { address, path } => match http_status(*address, path) {
            Ok(status) if status.split_whitespace().next() == Some("200") => Seen::Ready,
            Ok(status) => Seen::NotYet(format!("{path} on {address} answered {status}")),
            Err(e) => Seen::NotYet(format!("{path} on {address}: {e}")),
        },
        Check::Connect(addresses) => addresses
            .iter()
            .find_map(|address| {
                TcpStream::connect_timeout(address, CONNECT_TIMEOUT)
                    .err()
                    .map(|e| Seen::NotYet(format!("nothing accepts connections on {address}: {e}")))
            })
            .unwrap_or(Seen::Ready),
        Check::ListeningInPod { pid, ports } => listening::in_pod(*pid, ports),
        Check::Running => Seen::Ready,
    }
}

/// The status of `GET path` on `address`: its code and reason, as `503 Service Unavailable`.
fn http_status(address: SocketAddr, path: &str) -> io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    // HTTP/1.0: the server closes the connection after its answer.
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut answer = Vec::new();
    let mut buffer = [0; 512];
    while !answer.windows(2).any(|w| w == b"\r\n") && answer.len() < MOST_READ {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    let line = answer.lines().next().unwrap_or_default();
    match line.split_once(' ') {
        Some((version, status)) if version.starts_with("HTTP/") => Ok(status.trim().to_string()),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("not an HTTP answer: {line:?}"),
        )),
    }
}

/// Waits until the sidecars, the workloads and the gateway of `running` are ready, printing a
/// line for each group once it is.
pub(super) fn until_ready(
    running: &mut Running,
    mesh: &LocalMesh,
    wait_for: &Wait<'_>,
    progress: &mut dyn Write,
) -> Result<(), LocalError> {
    let state = &running.state;
    let probe = |name: &str, role: Role, what: String, check: Check| {
        let index = state
            .processes
            .iter()
            .position(|p| p.name == name && p.role == role)?;
        Some(Probe {
            what,
            check,
            process: Some(index),
            log: state.processes[index].log.clone(),
        })
    };
    let mut sidecars = Vec::new();
    let mut workloads = Vec::new();
    let mut listening = 0;
    for spec in &mesh.workloads {
        let name = spec.name.as_str();
        let pod = state
            .plan
            .workload(name)
            .ok_or_else(|| LocalError::Config(format!("workload {name} has no plan")))?;
        // The health port is outside the inbound capture, so the pod's address reaches it from
        // here in a namespace too.
        let health = Check::Http {
            address: SocketAddr::from((pod.ip, proxy_ports::HEALTH)),
            path: HEALTH_PATH.to_string(),
        };
        sidecars.extend(probe(
            name,
            Role::Proxy,
            format!("the sidecar of {name}"),
            health,
        ));
        let pid = state
            .processes
            .iter()
            .find(|p| p.name == name && p.role == Role::Workload)
            .map_or(0, |p| p.pid);
        let check = match state.plan.mode {
            _ if spec.ports.is_empty() => Check::Running,
            Mode::Namespaces => Check::ListeningInPod {
                pid,
                ports: spec.ports.clone(),
            },
            // Nothing is captured: the workload's own address is the workload.
            Mode::Explicit => Check::Connect(
                spec.ports
                    .iter()
                    .map(|port| SocketAddr::from((pod.ip, *port)))
                    .collect(),
            ),
        };
        listening += usize::from(!spec.ports.is_empty());
        workloads.extend(probe(
            name,
            Role::Workload,
            format!("workload {name}"),
            check,
        ));
    }
    let gateway_health = GATEWAY_HEALTH
        .parse()
        .map_err(|e| LocalError::Config(format!("{GATEWAY_HEALTH}: {e}")))?;
    let gateway = probe(
        GATEWAY_NAME,
        Role::Gateway,
        "the ingress gateway".to_string(),
        Check::Http {
            address: gateway_health,
            path: HEALTH_PATH.to_string(),
        },
    );

    if !sidecars.is_empty() {
        wait(&sidecars, &mut running.children, wait_for)?;
        step(
            progress,
            &format!(
                "{} sidecars ready (config from the control plane applied)",
                sidecars.len()
            ),
        );
    }
    wait(&workloads, &mut running.children, wait_for)?;
    step(progress, &workloads_ready(listening, workloads.len()));
    if let Some(gateway) = gateway {
        wait(&[gateway], &mut running.children, wait_for)?;
        step(
            progress,
            &format!("ingress gateway ready on http://{GATEWAY_ADDRESS}"),
        );
    }
    Ok(())
}

/// The progress line once `all` workloads are ready, `listening` of them on their ports.
pub fn workloads_ready(listening: usize, all: usize) -> String {
    let running = all - listening.min(all);
    match (listening, running) {
        (listening, 0) => format!("{listening} workloads listening"),
        (0, running) => format!("{running} workloads running (no ports to listen on)"),
        (listening, running) => {
            format!("{listening} workloads listening, {running} running (no ports to listen on)")
        }
    }
}

/// A duration in the words of `--timeout`: `60 s`, `1500 ms`.
pub fn words(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// `--timeout`: a duration like `250ms`, `90s` or `2m` (a bare number is seconds), more than 0.
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let wrong = || format!("`{text}` is not a duration like 250ms, 90s or 2m");
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: u64 = number.parse().map_err(|_| wrong())?;
    let duration = match unit {
        "ms" => Duration::from_millis(value),
        "s" => Duration::from_secs(value),
        "m" => Duration::from_secs(value.saturating_mul(60)),
        _ => return Err(wrong()),
    };
    if duration.is_zero() {
        return Err("the timeout must be more than 0 (--no-wait does not wait)".to_string());
    }
    Ok(duration)
}

/// Where the log is, and its last lines (`tail`), indented.
pub fn log_note(log: &Path, tail: &str) -> String {
    if tail.is_empty() {
        return format!("its log, {}, is empty", log.display());
    }
    let lines: Vec<String> = tail.lines().map(|line| format!("  {line}")).collect();
    format!(
        "the end of its log, {}:\n{}",
        log.display(),
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests;
