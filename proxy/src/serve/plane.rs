//! The running listeners: bound from the snapshot, rebound as it changes, drained at shutdown
//! or, for the `INBOUND` ones alone, on the admin's `/drain_listeners?inboundonly`.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use tokio::{sync::watch, task::JoinHandle};

use super::{
    DataPlaneContext, ServeOptions,
    bind::{Bound, bind_address},
    tracker::{Abort, Tracker},
};
use crate::{
    config::{ConfigStore, ListenerConfig, Snapshot, TrafficDirection},
    http::HttpContext,
};

/// The running listeners. Spawns its tasks on the current runtime.
///
/// Dropping it without [`drain`](Self::drain) stops accepting; open connections carry on.
#[derive(Debug)]
pub struct DataPlane {
    ctx: Arc<DataPlaneContext>,
    /// Turns true at drain: accept loops close, HTTP connections finish gracefully.
    shutdown: watch::Sender<bool>,
    /// The same for the `INBOUND` listeners only; turns true with `shutdown` too.
    inbound_shutdown: watch::Sender<bool>,
    /// What is bound, by listener name: `(requested, local)` addresses.
    bound: watch::Receiver<BoundSet>,
    tracker: Tracker,
    abort: Abort,
    binder: JoinHandle<()>,
}

/// Keeps the bound sockets in step with the snapshot's listeners.
struct Binder {
    ctx: Arc<DataPlaneContext>,
    tracker: Tracker,
    listeners: HashMap<String, Bound>,
    published: watch::Sender<BoundSet>,
    /// Whether the `INBOUND` listeners are drained: they are closed and not bound again.
    inbound_drained: watch::Receiver<bool>,
}

/// Listener name → (requested, bound) addresses.
type BoundSet = HashMap<String, (SocketAddr, SocketAddr)>;

// === impl DataPlane ===

impl DataPlane {
    /// Binds every listener of `store`'s snapshot that binds, and keeps doing so as the
    /// snapshot changes. A listener that fails to bind is logged and retried at the next change.
    pub fn start(store: Arc<ConfigStore>, http: Arc<HttpContext>, options: ServeOptions) -> Self {
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (inbound_shutdown, inbound_rx) = watch::channel(false);
        let ctx = Arc::new(DataPlaneContext::with_options(
            store,
            http,
            shutdown_rx.clone(),
            inbound_rx.clone(),
            options,
        ));
        let (tracker, abort) = Tracker::new();
        let (published, bound) = watch::channel(HashMap::new());
        let mut binder = Binder {
            ctx: Arc::clone(&ctx),
            tracker: tracker.clone(),
            listeners: HashMap::new(),
            published,
            inbound_drained: inbound_rx,
        };
        // Subscribed before the first pass, so no change between the two is missed.
        let mut changes = ctx.store.subscribe();
        changes.borrow_and_update();
        binder.reconcile_sync(&ctx.store.load());
        let binder = tokio::spawn(binder.run(changes, shutdown_rx));
        Self {
            ctx,
            shutdown,
            inbound_shutdown,
            bound,
            tracker,
            abort,
            binder,
        }
    }

    /// Addresses actually bound, by listener name (after overrides and port 0).
    pub fn bound(&self) -> HashMap<String, SocketAddr> {
        self.bound
            .borrow()
            .iter()
            .map(|(name, (_, local))| (name.clone(), *local))
            .collect()
    }

    /// Resolves once every listener of the current snapshot that binds is bound.
    pub async fn ready(&self) {
        let mut bound = self.bound.clone();
        let _ = bound
            .wait_for(|bound| all_bound(&self.ctx.store.load(), &self.ctx.options, bound))
            .await;
    }

    /// Readiness without waiting (for /ready and /healthz/ready): false once draining.
    pub fn is_ready(&self) -> bool {
        !self.is_draining()
            && all_bound(
                &self.ctx.store.load(),
                &self.ctx.options,
                &self.bound.borrow(),
            )
    }

    /// What [`serve_tunnel`](super::serve_tunnel) needs, for the HTTP connection manager.
    pub fn context(&self) -> Arc<DataPlaneContext> {
        Arc::clone(&self.ctx)
    }

    /// How many accepted connections are open.
    pub fn open_connections(&self) -> usize {
        self.tracker.open()
    }

    /// Stops accepting on every listener and tells open HTTP connections to finish their
    /// in-flight requests and close (HTTP/2 GOAWAY, HTTP/1.1 `connection: close`), without
    /// waiting for them: the admin's `/drain_listeners`. The process keeps running; a later
    /// [`drain`](Self::drain) still waits for what is open.
    pub fn stop_listening(&self) {
        self.inbound_shutdown.send_replace(true);
        if !self.shutdown.send_replace(true) {
            tracing::info!("draining listeners");
        }
    }

    /// As [`stop_listening`](Self::stop_listening), for the listeners whose
    /// `traffic_direction` is `INBOUND` only (Envoy's `/drain_listeners?inboundonly`): they
    /// stop accepting and are not bound again while the process runs, and their HTTP
    /// connections finish gracefully; every other listener keeps serving.
    pub fn stop_listening_inbound(&self) {
        if !self.inbound_shutdown.send_replace(true) {
            tracing::info!("draining inbound listeners");
        }
    }

    /// Whether listeners are draining: all of them, stopped by
    /// [`stop_listening`](Self::stop_listening) or [`drain`](Self::drain), or the inbound
    /// ones by [`stop_listening_inbound`](Self::stop_listening_inbound). Readiness is off then,
    /// so that no new traffic is sent to the workload.
    pub fn is_draining(&self) -> bool {
        *self.shutdown.borrow() || *self.inbound_shutdown.borrow()
    }

    /// Stops accepting, tells in-flight connections to finish, waits up to `grace`; the
    /// connections still open then are closed.
    pub async fn drain(self, grace: Duration) {
        self.shutdown.send_replace(true);
        self.inbound_shutdown.send_replace(true);
        // The binder closes every listening socket before it returns.
        let _ = self.binder.await;
        if !self.tracker.wait_closed(grace).await {
            tracing::info!(
                open = self.tracker.open(),
                "drain grace period over; closing the remaining connections"
            );
            self.abort.abort();
        }
    }
}

/// Whether every binding listener of `snapshot` is bound where it asks to be.
fn all_bound(snapshot: &Snapshot, options: &ServeOptions, bound: &BoundSet) -> bool {
    snapshot
        .listeners
        .values()
        .filter(|listener| listener.bind_to_port)
        .all(|listener| {
            bound
                .get(&listener.name)
                .is_some_and(|(requested, _)| *requested == bind_address(listener, options))
        })
}

// === impl Binder ===

impl Binder {
    async fn run(mut self, mut changes: watch::Receiver<u64>, mut shutdown: watch::Receiver<bool>) {
        loop {
            // The select only decides; acting inside it would hold a watch guard across awaits.
            // A dropped sender means the data plane is gone: stop, as for a shutdown.
            let changed = tokio::select! {
                changed = changes.changed() => changed.is_ok(),
                changed = self.inbound_drained.changed() => changed.is_ok(),
                _ = shutdown.wait_for(|stop| *stop) => false,
            };
            if !changed {
                break;
            }
            let snapshot = self.ctx.store.load();
            self.close_stale(&snapshot).await;
            self.reconcile_sync(&snapshot);
        }
        // Drain, or the data plane was dropped: nothing more will be accepted.
        for (_, bound) in self.listeners.drain() {
            bound.close().await;
        }
        self.publish();
    }

    /// Closes listeners the snapshot no longer binds, or binds elsewhere.
    async fn close_stale(&mut self, snapshot: &Snapshot) {
        let wanted = self.wanted(snapshot);
        let stale: Vec<String> = self
            .listeners
            .iter()
            .filter(|(name, bound)| wanted.get(*name) != Some(&bound.requested))
            .map(|(name, _)| name.clone())
            .collect();
        for name in stale {
            if let Some(bound) = self.listeners.remove(&name) {
                bound.close().await;
            }
        }
    }

    /// Binds what the snapshot binds and is not bound yet (a listener whose address changed was
    /// closed by `close_stale` first), then publishes the bound set.
    fn reconcile_sync(&mut self, snapshot: &Snapshot) {
        let mut names: Vec<&String> = snapshot.listeners.keys().collect();
        names.sort();
        for name in names {
            let Some(listener) = snapshot.listeners.get(name) else {
                continue;
            };
            if !self.binds(listener) || self.listeners.contains_key(name) {
                continue;
            }
            match Bound::start(listener, &self.ctx, &self.tracker) {
                Ok(bound) => {
                    self.listeners.insert(name.clone(), bound);
                }
                Err(error) => tracing::warn!(
                    listener = %name,
                    address = %bind_address(listener, &self.ctx.options),
                    %error,
                    "failed to bind listener; retrying at the next configuration change"
                ),
            }
        }
        self.publish();
    }

    fn wanted(&self, snapshot: &Snapshot) -> HashMap<String, SocketAddr> {
        snapshot
            .listeners
            .values()
            .filter(|listener| self.binds(listener))
            .map(|listener| {
                (
                    listener.name.clone(),
                    bind_address(listener, &self.ctx.options),
                )
            })
            .collect()
    }

    /// Whether `listener` should be bound now: it binds, and is not a drained inbound one.
    fn binds(&self, listener: &ListenerConfig) -> bool {
        listener.bind_to_port
            && !(listener.traffic_direction == TrafficDirection::Inbound
                && *self.inbound_drained.borrow())
    }

    fn publish(&self) {
        let bound = self
            .listeners
            .iter()
            .map(|(name, bound)| (name.clone(), (bound.requested, bound.local)))
            .collect();
        self.published.send_replace(bound);
    }
}
