//! The load generator: open loop at a constant rate for latency, closed loop at a fixed
//! concurrency for throughput. Every run is bounded both by a duration and a request count.

pub mod client;
pub mod schedule;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::{task::JoinSet, time::Instant};

use self::{
    client::{Connection, Protocol},
    schedule::{Schedule, measured_from},
};
use super::histogram::Latencies;

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// Each connection sends its next request as soon as the previous one is answered: the
    /// throughput the system sustains at this concurrency.
    Closed {
        /// How many connections send at once.
        connections: usize,
    },
    /// Requests fall due at a constant rate whatever the answers do: latency below
    /// saturation, measured without coordinated omission.
    Open {
        /// Requests per second.
        rate: u32,
        /// How many connections share the rate.
        connections: usize,
    },
}

/// One run of the generator.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    /// Where requests go.
    pub target: SocketAddr,
    /// What they speak.
    pub protocol: Protocol,
    /// How they are paced.
    pub mode: Mode,
    /// How long requests are sent for. An open-loop run then waits as long again, at least a
    /// second, for the requests held back; what is still unsent then counts as failed.
    pub duration: Duration,
    /// The most requests the run sends.
    pub max_requests: u64,
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// The latency of every answered request.
    pub latencies: Latencies,
    /// Requests answered successfully.
    pub requests: u64,
    /// Requests that failed, timed out, or were never sent before the deadline.
    pub errors: u64,
    /// From the start of the run to the last answer.
    pub elapsed: Duration,
}

/// What one connection's task measured.
struct Share {
    latencies: Latencies,
    requests: u64,
    errors: u64,
    last_answer: Option<Instant>,
}

// === impl Mode ===

impl Mode {
    /// How many connections the mode opens.
    pub fn connections(self) -> usize {
        match self {
            Mode::Closed { connections } | Mode::Open { connections, .. } => connections.max(1),
        }
    }

    /// The name the report uses.
    pub fn label(self) -> String {
        match self {
            Mode::Closed { connections } => format!("closed loop, {connections} connections"),
            Mode::Open { rate, connections } => {
                format!("open loop, {rate} rps over {connections} connections")
            }
        }
    }

    /// A name fit for a file name.
    pub fn slug(self) -> String {
        match self {
            Mode::Closed { connections } => format!("closed-c{connections}"),
            Mode::Open { rate, .. } => format!("open-{rate}rps"),
        }
    }
}

/// Runs the load `spec` describes. Connections are opened before the clock starts.
pub async fn run(spec: &LoadSpec) -> anyhow::Result<Outcome> {
    let mut connections = Vec::with_capacity(spec.mode.connections());
    for _ in 0..spec.mode.connections() {
        connections.push(Connection::open(spec.target, spec.protocol).await?);
    }
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    match spec.mode {
        Mode::Closed { .. } => {
            let budget = Arc::new(AtomicU64::new(spec.max_requests));
            let end = start + spec.duration;
            for connection in connections {
                let (budget, spec) = (budget.clone(), spec.clone());
                tasks.spawn(closed_loop(connection, spec, budget, end));
            }
        }
        Mode::Open { rate, .. } => {
            let total =
                (u64::from(rate) * spec.duration.as_millis() as u64 / 1000).min(spec.max_requests);
            let schedule = Schedule {
                rate,
                connections: spec.mode.connections(),
                total,
            };
            let deadline = start + spec.duration + spec.duration.max(Duration::from_secs(1));
            for (index, connection) in connections.into_iter().enumerate() {
                let spec = spec.clone();
                tasks.spawn(open_loop(
                    connection, spec, schedule, index, start, deadline,
                ));
            }
        }
    }
    let mut outcome = Outcome {
        latencies: Latencies::new()?,
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    while let Some(share) = tasks.join_next().await {
        let share = share??;
        outcome.latencies.merge(&share.latencies)?;
        outcome.requests += share.requests;
        outcome.errors += share.errors;
        if let Some(last) = share.last_answer {
            outcome.elapsed = outcome.elapsed.max(last - start);
        }
    }
    Ok(outcome)
}

async fn closed_loop(
    mut connection: Connection,
    spec: LoadSpec,
    budget: Arc<AtomicU64>,
    end: Instant,
) -> anyhow::Result<Share> {
    let mut share = Share::new()?;
    // A call stuck past the end of the run (a proxy that never answers) ends the task.
    let deadline = end + Duration::from_secs(1);
    while Instant::now() < end && take_one(&budget) {
        let sent = Instant::now();
        match tokio::time::timeout_at(deadline, connection.call()).await {
            Ok(Ok(())) => {
                let answered = Instant::now();
                share.answered(answered - sent, answered);
            }
            Ok(Err(_)) => {
                share.errors += 1;
                match Connection::open(spec.target, spec.protocol).await {
                    Ok(reopened) => connection = reopened,
                    Err(_) => break,
                }
            }
            Err(_) => {
                share.errors += 1;
                break;
            }
        }
    }
    Ok(share)
}

async fn open_loop(
    mut connection: Connection,
    spec: LoadSpec,
    schedule: Schedule,
    index: usize,
    start: Instant,
    deadline: Instant,
) -> anyhow::Result<Share> {
    let mut share = Share::new()?;
    let mut previous_answer = None;
    let mut requests = schedule.requests_of(index);
    for request in requests.by_ref() {
        let due = start + schedule.offset(request);
        tokio::time::sleep_until(due).await;
        let sent = Instant::now();
        if sent >= deadline {
            share.errors += 1;
            break;
        }
        match tokio::time::timeout_at(deadline, connection.call()).await {
            Ok(Ok(())) => {
                let answered = Instant::now();
                let from = measured_from(due, previous_answer, sent);
                share.answered(answered - from, answered);
                previous_answer = Some(answered);
            }
            Ok(Err(_)) => {
                share.errors += 1;
                previous_answer = Some(Instant::now());
                match Connection::open(spec.target, spec.protocol).await {
                    Ok(reopened) => connection = reopened,
                    Err(_) => break,
                }
            }
            Err(_) => {
                share.errors += 1;
                break;
            }
        }
    }
    // Whatever the connection did not send counts as failed: an open loop owes every
    // scheduled request.
    share.errors += requests.count() as u64;
    Ok(share)
}

/// Takes one request from the shared budget; false once it is spent.
fn take_one(budget: &AtomicU64) -> bool {
    budget
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
            left.checked_sub(1)
        })
        .is_ok()
}

// === impl Share ===

impl Share {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latencies: Latencies::new()?,
            requests: 0,
            errors: 0,
            last_answer: None,
        })
    }

    fn answered(&mut self, latency: Duration, at: Instant) {
        self.latencies.record(latency);
        self.requests += 1;
        self.last_answer = Some(at);
    }
}
