//! The cluster store: Namespaces, Services, EndpointSlices, Pods, Secrets and every Istio kind,
//! watched
//! in a Kubernetes cluster and fed to the model.
//!
//! A thin shell around [`ClusterState`]: one kube-runtime watcher per kind (with the default
//! backoff, so a failing API server is retried, never hammered) turns its events into
//! [`Update`]s; one task applies them and publishes a new [`Snapshot`] when the model changed:
//! at once for an endpoint event (an EndpointSlice's or a Pod's) after a quiet window, and for
//! any other event, and the events that follow one within the window, once the window has been
//! quiet ([`Window`]). Its outward surface is the file store's, so the server cannot tell them
//! apart.
//!
//! The watchers feed [`ClusterState`] directly rather than through kube-runtime reflector
//! stores: [`Objects`](crate::model::Objects) owns its objects, so a reflector store beside it
//! would hold a second copy of every Pod. [`ClusterState`] applies events with a reflector's
//! semantics instead (a relist replaces a kind's objects when it is complete).

mod state;

#[cfg(test)]
mod tests;

use std::{fmt::Debug, sync::Arc, time::Duration};

use ::kube::{
    Api, Client, Resource,
    api::ApiResource,
    core::DynamicObject,
    runtime::{
        WatchStreamExt,
        watcher::{self, Event, watcher},
    },
};
use futures_util::StreamExt;
use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Secret, Service},
    discovery::v1::EndpointSlice,
};
use mesh_common::{
    api::{
        AuthorizationPolicy, DestinationRule, Gateway, Kind, PeerAuthentication,
        RequestAuthentication, ServiceEntry, Sidecar, VirtualService, WorkloadEntry,
    },
    load::{LoadError, LoadedKind, LoadedObject},
};
use serde::de::DeserializeOwned;
use tokio::{
    sync::{mpsc, watch},
    task::JoinHandle,
    time::{Instant, timeout_at},
};
use tracing::{info, warn};

pub use self::state::{ClusterState, Item, Update, decode_istio, trim, trim_pod};
use super::{Burst, Window};
use crate::{mesh_config::MeshConfig, model::Snapshot};

/// The debounce window of the watches' events (see [`Window`]), unless
/// [`KubeStore::start_with`] says otherwise.
pub const DEBOUNCE: Duration = Duration::from_millis(100);
/// The Secrets not watched (see [`watch_secrets`]).
const SECRET_FIELDS: &str = "type!=kubernetes.io/service-account-token,type!=helm.sh/release.v1";
/// The longest a build waits for a burst to end: a cluster that never stops changing is still
/// served.
const MAX_DELAY: Duration = Duration::from_secs(1);

/// A running cluster store. Dropping it stops the watches.
#[derive(Debug)]
pub struct KubeStore {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    errors: watch::Receiver<Arc<[LoadError]>>,
    listed: watch::Receiver<bool>,
    tasks: Vec<JoinHandle<()>>,
}

// === impl KubeStore ===

impl KubeStore {
    /// Starts watching every kind in every namespace. Must be called within a Tokio runtime.
    ///
    /// The first snapshot after the empty one is published once every kind has been listed:
    /// wait for [`KubeStore::listed`] before serving, or proxies would be sent a mesh without
    /// the objects not listed yet.
    pub fn start(client: Client, mesh: MeshConfig) -> Self {
        Self::start_with(client, mesh, DEBOUNCE, false)
    }

    /// [`KubeStore::start`] with a debounce window of `debounce` (the control plane's
    /// `--debounce`) rather than [`DEBOUNCE`]: an endpoint event after a quiet window is built
    /// into a snapshot at once (unless `debounce_endpoints`, the `--debounce-endpoints`), any
    /// other event, and the events that follow one within the window, once it has been quiet
    /// (see [`Window`]). This is the one window a change can wait for: the xDS server pushes
    /// each snapshot as it comes.
    pub fn start_with(
        client: Client,
        mesh: MeshConfig,
        debounce: Duration,
        debounce_endpoints: bool,
    ) -> Self {
        let (updates_tx, updates) = mpsc::unbounded_channel();
        let mut kinds = vec![
            LoadedKind::Namespace,
            LoadedKind::Service,
            LoadedKind::EndpointSlice,
            LoadedKind::Pod,
            LoadedKind::Secret,
        ];
        let mut tasks = vec![
            watch_typed::<Namespace>(
                &client,
                LoadedKind::Namespace,
                LoadedObject::Namespace,
                trim_of,
                &updates_tx,
            ),
            watch_typed::<Service>(
                &client,
                LoadedKind::Service,
                LoadedObject::Service,
                trim_of,
                &updates_tx,
            ),
            watch_typed::<EndpointSlice>(
                &client,
                LoadedKind::EndpointSlice,
                LoadedObject::EndpointSlice,
                trim_of,
                &updates_tx,
            ),
            watch_typed::<Pod>(
                &client,
                LoadedKind::Pod,
                LoadedObject::Pod,
                trim_pod,
                &updates_tx,
            ),
            watch_secrets(&client, &updates_tx),
        ];
        for &kind in Kind::ALL {
            kinds.push(LoadedKind::Istio(kind));
            tasks.push(watch_istio(&client, kind, &updates_tx));
        }
        let window = Window::for_store(debounce, MAX_DELAY, debounce_endpoints);
        let mut store = Self::from_updates(updates, kinds, mesh, window);
        store.tasks.extend(tasks);
        store
    }

    /// A store fed `updates` rather than watches, debounced by `window`: the first snapshot is
    /// built once each of `kinds` has been listed.
    pub(crate) fn from_updates(
        updates: mpsc::UnboundedReceiver<Update>,
        kinds: Vec<LoadedKind>,
        mesh: MeshConfig,
        window: Window,
    ) -> Self {
        let empty = Snapshot::build(&Default::default(), &mesh);
        let (snapshots_tx, snapshots) = watch::channel(Arc::new(empty));
        let (errors_tx, errors) = watch::channel(Arc::from(Vec::new()));
        let (listed_tx, listed) = watch::channel(false);
        let outputs = Outputs {
            snapshots: snapshots_tx,
            errors: errors_tx,
            listed: listed_tx,
        };
        let build = tokio::spawn(build_loop(mesh, kinds, updates, outputs, window));
        Self {
            snapshots,
            errors,
            listed,
            tasks: vec![build],
        }
    }

    /// The latest snapshot, and every one after it: a new one is published after each burst of
    /// events that changed the model, once every kind has been listed.
    pub fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// The resources that could not be read, for `/debug/config_status`.
    pub fn errors(&self) -> Arc<[LoadError]> {
        self.errors.borrow().clone()
    }

    /// The resources that could not be read, as they change.
    pub fn watch_errors(&self) -> watch::Receiver<Arc<[LoadError]>> {
        self.errors.clone()
    }

    /// Becomes true once every kind has been listed and the first full snapshot is published.
    pub fn listed(&self) -> watch::Receiver<bool> {
        self.listed.clone()
    }
}

impl Drop for KubeStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What the build task publishes.
struct Outputs {
    snapshots: watch::Sender<Arc<Snapshot>>,
    errors: watch::Sender<Arc<[LoadError]>>,
    listed: watch::Sender<bool>,
}

fn trim_of<K: Resource>(object: &mut K) {
    trim(object.meta_mut());
}

/// Watches a Kubernetes kind, which the API server always serves well-formed.
fn watch_typed<K>(
    client: &Client,
    kind: LoadedKind,
    wrap: fn(K) -> LoadedObject,
    trim: fn(&mut K),
    updates: &mpsc::UnboundedSender<Update>,
) -> JoinHandle<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let api = Api::<K>::all(client.clone());
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(trim);
    tokio::spawn(forward(
        stream,
        kind,
        move |object| Item::of(wrap(object)),
        updates.clone(),
    ))
}

/// Watches the Secrets that may hold credentials, leaving out those that never do, as Istio's
/// credential controller does: service-account tokens and Helm's release records are most of a
/// cluster's Secrets.
fn watch_secrets(client: &Client, updates: &mpsc::UnboundedSender<Update>) -> JoinHandle<()> {
    let api = Api::<Secret>::all(client.clone());
    let config = watcher::Config::default().fields(SECRET_FIELDS);
    let stream = watcher(api, config).default_backoff().modify(trim_of);
    tokio::spawn(forward(
        stream,
        LoadedKind::Secret,
        |object| Item::of(LoadedObject::Secret(object)),
        updates.clone(),
    ))
}

/// Watches an Istio kind untyped (see [`decode_istio`] for why).
fn watch_istio(
    client: &Client,
    kind: Kind,
    updates: &mpsc::UnboundedSender<Update>,
) -> JoinHandle<()> {
    let resource = api_resource(kind);
    let api = Api::<DynamicObject>::all_with(client.clone(), &resource);
    let stream = watcher(api, watcher::Config::default()).default_backoff();
    tokio::spawn(forward(
        stream,
        LoadedKind::Istio(kind),
        move |object| decode_istio(kind, &resource, object),
        updates.clone(),
    ))
}

/// The API resource Istio serves a kind as: its preferred version and plural.
pub fn api_resource(kind: Kind) -> ApiResource {
    match kind {
        Kind::VirtualService => ApiResource::erase::<VirtualService>(&()),
        Kind::DestinationRule => ApiResource::erase::<DestinationRule>(&()),
        Kind::Gateway => ApiResource::erase::<Gateway>(&()),
        Kind::ServiceEntry => ApiResource::erase::<ServiceEntry>(&()),
        Kind::WorkloadEntry => ApiResource::erase::<WorkloadEntry>(&()),
        Kind::Sidecar => ApiResource::erase::<Sidecar>(&()),
        Kind::AuthorizationPolicy => ApiResource::erase::<AuthorizationPolicy>(&()),
        Kind::PeerAuthentication => ApiResource::erase::<PeerAuthentication>(&()),
        Kind::RequestAuthentication => ApiResource::erase::<RequestAuthentication>(&()),
        Kind::Telemetry => ApiResource::erase::<mesh_common::api::Telemetry>(&()),
    }
}

/// Turns a watcher's events into updates until the store is gone.
async fn forward<K>(
    stream: impl futures_util::Stream<Item = Result<Event<K>, watcher::Error>> + Send,
    kind: LoadedKind,
    item: impl Fn(K) -> Item + Send,
    updates: mpsc::UnboundedSender<Update>,
) {
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        let update = match event {
            Ok(Event::Apply(object)) => Update::Apply(item(object)),
            Ok(Event::Delete(object)) => Update::Delete(item(object).key),
            Ok(Event::Init) => Update::Relist(kind),
            Ok(Event::InitApply(object)) => Update::Listed(item(object)),
            Ok(Event::InitDone) => Update::RelistDone(kind),
            Err(error) if kind == LoadedKind::Secret && list_status(&error) == Some(403) => {
                // Secrets are only read for SDS: a service account not allowed to read them must
                // not keep the mesh from being served. The watcher keeps trying.
                warn!("not allowed to list Secrets: credentialName references will not resolve");
                Update::RelistDone(kind)
            }
            Err(error) if is_not_found(&error) => {
                // The kind's CRD is not installed: it has no objects, and must not hold the
                // first snapshot back. The watcher keeps trying, and lists it once it is.
                warn!(%kind, "the cluster does not serve {kind}; watching for it");
                Update::RelistDone(kind)
            }
            Err(error) => {
                warn!(%kind, %error, "watch failed; retrying");
                continue;
            }
        };
        if updates.send(update).is_err() {
            return;
        }
    }
}

/// The status code of a failed initial list.
fn list_status(error: &watcher::Error) -> Option<u16> {
    match error {
        watcher::Error::InitialListFailed(::kube::Error::Api(status)) => Some(status.code),
        _ => None,
    }
}

fn is_not_found(error: &watcher::Error) -> bool {
    matches!(
        error,
        watcher::Error::InitialListFailed(::kube::Error::Api(status)) if status.code == 404
    )
}

async fn build_loop(
    mesh: MeshConfig,
    kinds: Vec<LoadedKind>,
    mut updates: mpsc::UnboundedReceiver<Update>,
    outputs: Outputs,
    mut window: Window,
) {
    let mut state = ClusterState::default();
    let mut changed = false;
    let mut published = false;
    let mut last = Arc::new(Snapshot::build(&Default::default(), &mesh));
    while let Some(update) = updates.recv().await {
        let burst = window.open(Instant::now());
        let endpoints = update.is_endpoint();
        changed |= state.apply(update);
        changed |= settle(&mut state, &mut updates, &mut window, burst, endpoints).await;
        let errors = state.errors();
        outputs.errors.send_if_modified(|current| {
            for error in &errors {
                // Each error once, when it appears, not again on every build until it is fixed.
                if !current.contains(error) {
                    warn!(reason = %error.reason, "cluster resource error: {error}");
                }
            }
            let modified = **current != *errors;
            *current = Arc::from(errors.clone());
            modified
        });
        if !state.has_listed(&kinds) || (published && !changed) {
            continue;
        }
        // Built from the last one: only what the events touched is built again.
        let snapshot = Arc::new(state.snapshot(&last));
        last = Arc::clone(&snapshot);
        info!(version = snapshot.version(), "cluster state changed");
        outputs.snapshots.send_replace(snapshot);
        outputs.listed.send_replace(true);
        published = true;
        changed = false;
    }
}

/// Applies the updates of `burst` that follow its first: those already queued, and, unless
/// the burst is leading and all of it endpoint events (`endpoints` says whether the first was
/// one: it then goes at once), those that come until the window is quiet or [`MAX_DELAY`] has
/// passed; true when one changed the model.
async fn settle(
    state: &mut ClusterState,
    updates: &mut mpsc::UnboundedReceiver<Update>,
    window: &mut Window,
    burst: Burst,
    mut endpoints: bool,
) -> bool {
    let mut changed = false;
    loop {
        // What came with the first update (a relist's items, an apply of several objects), as
        // long as the burst may last.
        while Instant::now() < window.deadline(&burst)
            && let Ok(update) = updates.try_recv()
        {
            window.add(Instant::now());
            endpoints &= update.is_endpoint();
            changed |= state.apply(update);
        }
        if (burst.leading && endpoints) || Instant::now() >= window.due(&burst) {
            return changed;
        }
        match timeout_at(window.due(&burst), updates.recv()).await {
            Ok(Some(update)) => {
                window.add(Instant::now());
                changed |= state.apply(update);
            }
            _ => return changed,
        }
    }
}
