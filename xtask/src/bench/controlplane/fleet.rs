//! The simulated sidecars of one run, all in this process, and the phases driven through them:
//! the initial sync, single endpoint changes, and a steady churn of them. Every wait is bounded
//! by a deadline; every phase is bounded in changes.

use std::{sync::Arc, time::Duration};

use envoy_types::pb::{
    envoy::config::core::v3::Node,
    google::protobuf::{self, Struct, value::Kind},
};
use mesh_common::well_known::node_metadata;
use tokio::{
    sync::{mpsc, watch},
    task::JoinSet,
    time::Instant,
};

use super::{
    figures::{Phase, Sync, Window},
    mesh::{Mesh, MeshPod, MeshService},
    sidecar::{self, Awaited, Event, Protocol, Sidecar, Wiring},
};
use crate::bench::procfs;

/// How long one connection attempt of a sidecar may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The sidecars of a run.
#[derive(Debug)]
pub struct Fleet {
    protocols: Vec<Protocol>,
    events: mpsc::UnboundedReceiver<Event>,
    awaited: watch::Sender<Arc<Awaited>>,
    tasks: JoinSet<()>,
    /// Changes announced so far; each phase numbers its own from here.
    changes: usize,
}

/// How a phase of changes is paced and bounded.
#[derive(Clone, Copy, Debug)]
pub struct Pacing {
    /// How many changes.
    pub changes: usize,
    /// Single changes: after every sidecar's ACK, how long before the next change (the
    /// trailing pushes of the last one land in between). Churn: the time between two writes.
    pub gap: Duration,
    /// Whether the next change waits for the ACKs of the last (single changes) or not (churn).
    pub wait_for_acks: bool,
    /// How long the sidecars have to ACK a change, from its write.
    pub patience: Duration,
}

// === impl Fleet ===

impl Fleet {
    /// Connects `proxies` sidecars to `xds`, half of them (the odd ones) state of the world,
    /// the other half delta, each impersonating one pod of `mesh`.
    pub fn start(xds: std::net::SocketAddr, mesh: &Mesh, proxies: usize) -> Fleet {
        let (events_tx, events) = mpsc::unbounded_channel();
        let (awaited, awaited_rx) = watch::channel(Arc::new(Awaited::default()));
        let wiring = Wiring {
            xds,
            events: events_tx,
            awaited: awaited_rx,
            connect_timeout: CONNECT_TIMEOUT,
        };
        let mut tasks = JoinSet::new();
        let mut protocols = Vec::with_capacity(proxies);
        for index in 0..proxies {
            let service = &mesh.services[index % mesh.services.len()];
            let pod = &service.pods[(index / mesh.services.len()) % service.pods.len()];
            let protocol = if !index.is_multiple_of(2) {
                Protocol::Sotw
            } else {
                Protocol::Delta
            };
            protocols.push(protocol);
            let sidecar = Sidecar {
                index,
                node: node(service, pod),
                protocol,
            };
            tasks.spawn(sidecar::run(sidecar, wiring.clone()));
        }
        Fleet {
            protocols,
            events,
            awaited,
            tasks,
            changes: 0,
        }
    }

    /// Waits until every sidecar has synced, one failed for each that has not, or `patience`
    /// passed.
    pub async fn sync(&mut self, patience: Duration) -> anyhow::Result<Sync> {
        let start = Instant::now();
        let deadline = start + patience;
        let mut window = Window::new(self.protocols.clone())?;
        while window.synced() + window.failed() < self.protocols.len() {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => window.record(event),
                Ok(None) | Err(_) => break,
            }
        }
        Ok(window.sync(start.elapsed()))
    }

    /// Adds endpoints to `mesh` as `pacing` says, one service after another (a stride apart,
    /// so that consecutive changes touch different services), and measures how they reach the
    /// sidecars. `pid` is the control plane's, for its CPU time.
    pub async fn changes(
        &mut self,
        mesh: &mut Mesh,
        pacing: Pacing,
        pid: u32,
    ) -> anyhow::Result<Phase> {
        let mut window = Window::new(self.protocols.clone())?;
        let proxies = self.protocols.len();
        let first = self.changes;
        let cpu_before = procfs::read_cpu_ticks(pid)?;
        let start = Instant::now();
        let mut written = 0;
        let mut last_write = start;
        // When the next change is due; `None` while single changes wait for their ACKs.
        let mut due = Some(start);
        loop {
            let now = Instant::now();
            let patience_over = now >= last_write + pacing.patience;
            if written < pacing.changes {
                let last_acked = window.acked(first + written.saturating_sub(1)) >= proxies;
                if due.is_none() && (last_acked || patience_over) {
                    due = Some(now + pacing.gap);
                }
            } else {
                let all_acked = (first..first + written).all(|c| window.acked(c) >= proxies);
                if all_acked || patience_over {
                    break;
                }
            }
            // Wake for the deadline, or once it passed for the next change (the other arm).
            let deadline = last_write + pacing.patience;
            let wake = match due {
                Some(due) if deadline <= now => due,
                _ => deadline,
            };
            tokio::select! {
                () = wait_until(due), if written < pacing.changes && due.is_some() => {
                    let change = first + written;
                    let (service, added) = mesh.add_endpoint(change * STRIDE)?;
                    // Announced before the write, so no sidecar can see it unannounced.
                    self.awaited.send_modify(|awaited| {
                        Arc::make_mut(awaited).add(change, &added.cluster, added.address);
                    });
                    mesh.save_service(service)?;
                    last_write = Instant::now();
                    window.written(change, last_write);
                    written += 1;
                    // Churn keeps its rate even when a write is late: the next one is due a
                    // gap after this one was.
                    due = match (pacing.wait_for_acks, due) {
                        (false, Some(due)) => Some(due + pacing.gap),
                        _ => None,
                    };
                }
                event = tokio::time::timeout_at(wake, self.events.recv()) => {
                    match event {
                        Ok(Some(event)) => window.record(event),
                        Ok(None) => anyhow::bail!("every sidecar is gone"),
                        // The deadline: checked at the top of the loop.
                        Err(_) => {}
                    }
                }
            }
        }
        self.changes += written;
        let elapsed = start.elapsed();
        let cpu_ticks = procfs::read_cpu_ticks(pid)?.saturating_sub(cpu_before);
        let cpu_ms = cpu_ticks as f64 * 1000.0 / procfs::ticks_per_second() as f64;
        window.phase(written, elapsed, Some(cpu_ms))
    }

    /// Stops every sidecar.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Changes go to services this far apart (a prime): consecutive changes touch different
/// services, and every service is touched before any is touched twice unless the service count
/// is a multiple of it.
const STRIDE: usize = 7919;

async fn wait_until(due: Option<Instant>) {
    if let Some(due) = due {
        tokio::time::sleep_until(due).await;
    }
}

/// The node a sidecar of `pod` introduces itself with, as mesh-proxy's bootstrap does.
pub fn node(service: &MeshService, pod: &MeshPod) -> Node {
    let string = |value: &str| protobuf::Value {
        kind: Some(Kind::StringValue(value.to_string())),
    };
    let labels = Struct {
        fields: [("app", service.name.as_str()), ("version", pod.version)]
            .into_iter()
            .map(|(key, value)| (key.to_string(), string(value)))
            .collect(),
    };
    let ip = pod.ip.to_string();
    let fields = [
        (node_metadata::NAMESPACE, string(&service.namespace)),
        (
            node_metadata::LABELS,
            protobuf::Value {
                kind: Some(Kind::StructValue(labels)),
            },
        ),
        (node_metadata::INSTANCE_IPS, string(&ip)),
        (node_metadata::SERVICE_ACCOUNT, string(&service.name)),
        (node_metadata::WORKLOAD_NAME, string(&service.name)),
    ];
    Node {
        id: format!(
            "sidecar~{ip}~{}.{ns}~{ns}.svc.cluster.local",
            pod.name,
            ns = service.namespace
        ),
        metadata: Some(Struct {
            fields: fields
                .into_iter()
                .map(|(key, value)| (key.to_string(), value))
                .collect(),
        }),
        ..Node::default()
    }
}
