//! The tonic ADS service, and [`serve`] to run it on a listener.

use std::{future::Future, sync::Arc};

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use tokio::{net::TcpListener, sync::mpsc, sync::watch};
use tonic::{
    Status,
    transport::{Server, server::TcpIncoming},
};

use super::{
    debounce::{DebounceOptions, debounce},
    delta::DeltaConnection,
    generator::{Changed, Generator},
    sotw::SotwConnection,
    status::StatusRegistry,
    stream::{self, Connection, Shared},
    wire::{AdsService, Outgoing, Requests},
};

/// Responses queued per stream before the stream waits for the proxy to read. Each holds its
/// own copy of what it carries (the whole mesh, for a first response): a deep queue per proxy
/// is what a thousand slow readers would hold in memory. A stream waiting for room reads no
/// pushes meanwhile; they coalesce into one.
const RESPONSE_QUEUE: usize = 1;

/// How the server runs.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// How config changes are coalesced into pushes.
    pub debounce: DebounceOptions,
    /// Where streams report their progress; keep a clone to serve `/debug/syncz`.
    pub status: Arc<StatusRegistry>,
}

/// The aggregated discovery service, both variants, for tonic.
#[derive(Clone)]
pub struct XdsServer {
    shared: Shared,
}

// === impl XdsServer ===

impl XdsServer {
    /// A service generating with `generator` and pushing on every (already debounced) change
    /// published on `pushes`, whose versions count pushes (see [`debounce`]).
    pub fn new(
        generator: Arc<dyn Generator>,
        pushes: watch::Receiver<Changed>,
        status: Arc<StatusRegistry>,
    ) -> Self {
        Self {
            shared: Shared {
                generator,
                pushes,
                status,
                closing: None,
            },
        }
    }

    /// Ends every stream, open or opened later, once `closing` turns true.
    pub fn with_closing(mut self, closing: watch::Receiver<bool>) -> Self {
        self.shared.closing = Some(closing);
        self
    }

    /// Serves a state-of-the-world stream reading `requests`; its responses come out of the
    /// receiver.
    pub fn sotw(
        &self,
        requests: Requests<DiscoveryRequest>,
    ) -> mpsc::Receiver<Result<Outgoing<DiscoveryResponse>, Status>> {
        self.spawn(SotwConnection::new(), requests)
    }

    /// Serves a delta stream reading `requests`; its responses come out of the receiver.
    pub fn delta(
        &self,
        requests: Requests<DeltaDiscoveryRequest>,
    ) -> mpsc::Receiver<Result<Outgoing<DeltaDiscoveryResponse>, Status>> {
        self.spawn(DeltaConnection::new(), requests)
    }

    fn spawn<C: Connection>(
        &self,
        connection: C,
        requests: Requests<C::Request>,
    ) -> mpsc::Receiver<Result<C::Response, Status>>
    where
        C::Request: prost::Message + Default,
    {
        let (responses, rx) = mpsc::channel(RESPONSE_QUEUE);
        tokio::spawn(stream::run(
            connection,
            requests,
            responses,
            self.shared.clone(),
        ));
        rx
    }
}

impl std::fmt::Debug for XdsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdsServer")
            .field("status", &self.shared.status)
            .finish_non_exhaustive()
    }
}

/// Serves ADS in plaintext on `listener` (15010, for local and development use) until the
/// server fails. Config changes on `changes` are debounced, then pushed to the proxies they
/// affect; the server keeps answering requests if `changes`' sender goes away.
pub fn serve(
    listener: TcpListener,
    generator: Arc<dyn Generator>,
    changes: watch::Receiver<Changed>,
    options: Options,
) -> impl Future<Output = Result<(), tonic::transport::Error>> {
    serve_with_shutdown(
        listener,
        generator,
        changes,
        options,
        std::future::pending(),
    )
}

/// [`serve`], until `shutdown` resolves: then the server stops accepting connections, ends
/// every stream (the proxies see it end with status OK and reconnect) and returns once the
/// connections are closed.
pub fn serve_with_shutdown(
    listener: TcpListener,
    generator: Arc<dyn Generator>,
    changes: watch::Receiver<Changed>,
    options: Options,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> impl Future<Output = Result<(), tonic::transport::Error>> {
    let (pushes_tx, pushes_rx) = watch::channel(Changed::default());
    let (closing_tx, closing_rx) = watch::channel(false);
    let service = XdsServer::new(generator, pushes_rx, options.status).with_closing(closing_rx);
    let signal = async move {
        shutdown.await;
        closing_tx.send_replace(true);
    };
    let grpc = Server::builder()
        .add_service(AdsService::new(service))
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), signal);
    let debouncer = debounce(changes, pushes_tx, options.debounce);
    async move {
        tokio::pin!(grpc);
        tokio::select! {
            served = &mut grpc => return served,
            () = debouncer => {}
        }
        grpc.await
    }
}
