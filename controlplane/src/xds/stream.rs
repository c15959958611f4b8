//! One ADS stream: requests and config pushes in, responses out, progress to the registry.
//!
//! The same loop drives both variants through [`Connection`], which the state-of-the-world
//! and delta states implement.

use std::sync::Arc;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use futures_util::{Stream, StreamExt};
use mesh_xds::ResourceType;
use tokio::sync::{mpsc, watch};
use tonic::Status;

use super::{
    connection::{ConnectionState, TypeState},
    delta::{DeltaConnection, DeltaType},
    generator::{Changed, Generator, Subscription},
    list::ResourceList,
    protocol::{Action, ProtocolError},
    scope::Target,
    sotw::{SotwConnection, SotwType},
    status::{Registration, StatusRegistry},
    wire::Outgoing,
};

/// The protocol state of one stream, as the stream loop needs it.
pub(crate) trait Connection: Send + 'static {
    type Request: Send + Sync + 'static;
    type Response: Send + 'static;

    /// `sotw` or `delta`, for the status page.
    const PROTOCOL: &'static str;

    type TypeState: TypeState;

    fn type_url(request: &Self::Request) -> &str;
    fn on_request(&mut self, request: &Self::Request) -> Result<Action, ProtocolError>;
    fn state(&self) -> &ConnectionState<Self::TypeState>;
    fn respond(
        &mut self,
        kind: ResourceType,
        resources: ResourceList,
        forced: bool,
    ) -> Option<Self::Response>;
}

/// What a stream needs from the server.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) generator: Arc<dyn Generator>,
    pub(crate) pushes: watch::Receiver<Changed>,
    pub(crate) status: Arc<StatusRegistry>,
    /// Turns true when the server stops: every stream ends, so that the proxies reconnect
    /// elsewhere rather than wait on a server that no longer pushes.
    pub(crate) closing: Option<watch::Receiver<bool>>,
}

/// The proxy hung up, or stopped reading.
struct Closed;

struct StreamTask<C: Connection> {
    connection: C,
    shared: Shared,
    responses: mpsc::Sender<Result<C::Response, Status>>,
    registration: Registration,
}

/// Serves one stream until the proxy hangs up.
pub(crate) async fn run<C, S>(
    connection: C,
    requests: S,
    responses: mpsc::Sender<Result<C::Response, Status>>,
    shared: Shared,
) where
    C: Connection,
    S: Stream<Item = Result<C::Request, Status>> + Unpin + Send,
{
    let registration = shared.status.register();
    let stream = StreamTask {
        connection,
        shared,
        responses,
        registration,
    };
    // `Closed` is how a stream ends; the registration's drop removes it from the status.
    let _ = stream.serve(requests).await;
}

// === impl StreamTask ===

impl<C: Connection> StreamTask<C> {
    async fn serve<S>(mut self, mut requests: S) -> Result<(), Closed>
    where
        S: Stream<Item = Result<C::Request, Status>> + Unpin + Send,
    {
        let mut pushes = self.shared.pushes.clone();
        let mut last_push = pushes.borrow_and_update().version;
        let mut pushes_open = true;
        // What scopes are matched against, read from the first request's node.
        let mut target: Option<Target> = None;
        let closing = closed(self.shared.closing.clone());
        tokio::pin!(closing);
        loop {
            tokio::select! {
                () = &mut closing => return Err(Closed),
                request = requests.next() => {
                    let request = match request {
                        Some(Ok(request)) => request,
                        Some(Err(status)) => {
                            tracing::debug!(%status, "xDS stream broke");
                            return Err(Closed);
                        }
                        None => return Err(Closed),
                    };
                    self.on_request(&request).await?;
                    if target.is_none() {
                        target = self.connection.state().node().map(Target::of_node);
                    }
                }
                changed = pushes.changed(), if pushes_open => {
                    if changed.is_err() {
                        // No more config changes will come; keep answering requests.
                        pushes_open = false;
                        continue;
                    }
                    let push = pushes.borrow_and_update().clone();
                    let scope = push.scope_since(last_push);
                    last_push = push.version;
                    let Some(target) = &target else {
                        // No request yet: nothing subscribed, nothing to push.
                        continue;
                    };
                    let reach = scope.reach(target);
                    self.registration.reached(reach);
                    for kind in self.connection.state().subscribed() {
                        // A type the change cannot have altered is not even generated: an
                        // endpoint change regenerates load assignments alone.
                        if reach.includes(kind) {
                            self.send(kind, false).await?;
                        }
                    }
                }
            }
        }
    }

    async fn on_request(&mut self, request: &C::Request) -> Result<(), Closed> {
        let kind = ResourceType::from_type_url(C::type_url(request));
        let action = match self.connection.on_request(request) {
            Ok(action) => action,
            Err(error) => {
                let _ = self
                    .responses
                    .send(Err(Status::invalid_argument(error.to_string())))
                    .await;
                return Err(Closed);
            }
        };
        match (action, kind) {
            (Action::Respond, Some(kind)) => self.send(kind, true).await?,
            (Action::Nack(error), Some(kind)) => {
                tracing::warn!(
                    node = self.node_id(),
                    r#type = kind.short_name(),
                    %error,
                    "proxy rejected config"
                );
                self.registration.nacked(kind);
            }
            _ => {}
        }
        self.record();
        Ok(())
    }

    /// Generates `kind` for the proxy and sends it if it is news, or if `forced`.
    async fn send(&mut self, kind: ResourceType, forced: bool) -> Result<(), Closed> {
        if self.connection.state().progress(kind).is_none() {
            return Ok(());
        }
        // The slot first: a proxy that reads slowly holds up its own stream's next response,
        // and the pushes meanwhile coalesce, instead of piling up encoded copies of the mesh.
        let slot = self.responses.reserve().await.map_err(|_| Closed)?;
        // `respond` keeps only what the stream subscribed to, so the generator is asked for
        // every resource of the type but secrets, which it resolves by name: a copy of the
        // names a proxy subscribed to (thousands, for load assignments) per push is spared.
        let subscription = match kind {
            ResourceType::Secret => self.connection.state().subscription(kind),
            _ => Some(Subscription::Wildcard),
        };
        let (Some(node), Some(subscription)) = (self.connection.state().node(), subscription)
        else {
            return Ok(());
        };
        let resources = match (self.shared.generator).generate_list(node, kind, &subscription) {
            Ok(resources) => resources,
            Err(error) => {
                // The proxy keeps what it has; the next change tries again.
                tracing::warn!(%error, "cannot generate xDS resources");
                return Ok(());
            }
        };
        let Some(response) = self.connection.respond(kind, resources, forced) else {
            return Ok(());
        };
        slot.send(Ok(response));
        self.record();
        self.registration.pushed(kind);
        Ok(())
    }

    fn record(&self) {
        let state = self.connection.state();
        let Some(node) = state.node() else {
            return;
        };
        let progress = state
            .subscribed()
            .into_iter()
            .filter_map(|kind| Some((kind, state.progress(kind)?)));
        self.registration.update(&node.id, C::PROTOCOL, progress);
    }

    fn node_id(&self) -> &str {
        self.connection
            .state()
            .node()
            .map_or("", |node| node.id.as_str())
    }
}

/// Resolves when `closing` turns true; never, without one or once its sender is gone.
async fn closed(closing: Option<watch::Receiver<bool>>) {
    if let Some(mut closing) = closing
        && closing.wait_for(|closing| *closing).await.is_ok()
    {
        return;
    }
    std::future::pending().await
}

// === impl Connection for SotwConnection ===

impl Connection for SotwConnection {
    type Request = DiscoveryRequest;
    type Response = Outgoing<DiscoveryResponse>;
    type TypeState = SotwType;
    const PROTOCOL: &'static str = "sotw";

    fn type_url(request: &DiscoveryRequest) -> &str {
        &request.type_url
    }
    fn on_request(&mut self, request: &DiscoveryRequest) -> Result<Action, ProtocolError> {
        SotwConnection::on_request(self, request)
    }
    fn state(&self) -> &ConnectionState<SotwType> {
        SotwConnection::state(self)
    }
    fn respond(
        &mut self,
        kind: ResourceType,
        resources: ResourceList,
        forced: bool,
    ) -> Option<Outgoing<DiscoveryResponse>> {
        SotwConnection::respond(self, kind, resources, forced)
    }
}

// === impl Connection for DeltaConnection ===

impl Connection for DeltaConnection {
    type Request = DeltaDiscoveryRequest;
    type Response = Outgoing<DeltaDiscoveryResponse>;
    type TypeState = DeltaType;
    const PROTOCOL: &'static str = "delta";

    fn type_url(request: &DeltaDiscoveryRequest) -> &str {
        &request.type_url
    }
    fn on_request(&mut self, request: &DeltaDiscoveryRequest) -> Result<Action, ProtocolError> {
        DeltaConnection::on_request(self, request)
    }
    fn state(&self) -> &ConnectionState<DeltaType> {
        DeltaConnection::state(self)
    }
    fn respond(
        &mut self,
        kind: ResourceType,
        resources: ResourceList,
        forced: bool,
    ) -> Option<Outgoing<DeltaDiscoveryResponse>> {
        DeltaConnection::respond(self, kind, resources, forced)
    }
}
