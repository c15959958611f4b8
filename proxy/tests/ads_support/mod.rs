//! A fake control plane for the ADS client's tests: a tonic ADS server whose streams the test
//! drives by hand, one request and one response at a time.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use envoy_types::pb::envoy::{
    config::core::v3::Node,
    service::discovery::v3::{
        DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
        aggregated_discovery_service_server::{
            AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
        },
    },
};
use mesh_common::xds::short_name;
use mesh_proxy::{bootstrap::AdsConfig, config::ConfigStore, xds_client::XdsClient};
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{
    Request, Response, Status, Streaming,
    transport::{Server, server::TcpIncoming},
};

mod resources;

pub use self::resources::*;

pub const PATIENCE: Duration = Duration::from_secs(10);

// === What the client is given ===

/// The proxy's node: a sidecar.
pub fn node() -> Node {
    Node {
        id: "sidecar~10.0.0.9~test.default~default.svc.cluster.local".to_owned(),
        cluster: "test.default".to_owned(),
        ..Node::default()
    }
}

/// The ADS client's configuration for the fake control plane at `address`, state of the world.
pub fn ads(address: SocketAddr) -> AdsConfig {
    AdsConfig {
        cluster: "xds-grpc".to_owned(),
        targets: vec![(address.ip().to_string(), address.port())],
        connect_timeout: Duration::from_secs(1),
        delta: false,
    }
}

// === The fake control plane ===

/// One ADS stream as the test sees it.
pub struct Stream<Req, Resp> {
    pub requests: mpsc::UnboundedReceiver<Req>,
    pub responses: mpsc::UnboundedSender<Result<Resp, Status>>,
}

pub type SotwStream = Stream<DiscoveryRequest, DiscoveryResponse>;
pub type DeltaStream = Stream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

#[derive(Clone)]
pub struct FakeAds {
    pub sotw: mpsc::UnboundedSender<SotwStream>,
    pub delta: mpsc::UnboundedSender<DeltaStream>,
}

pub struct Control {
    pub address: SocketAddr,
    pub sotw: mpsc::UnboundedReceiver<SotwStream>,
    pub delta: mpsc::UnboundedReceiver<DeltaStream>,
    pub server: JoinHandle<()>,
}

pub fn open<Req, Resp>(
    mut incoming: Streaming<Req>,
) -> (
    Stream<Req, Resp>,
    UnboundedReceiverStream<Result<Resp, Status>>,
)
where
    Req: prost::Message + Default + Send + 'static,
{
    let (req_tx, requests) = mpsc::unbounded_channel();
    let (responses, resp_rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(request)) = incoming.message().await {
            if req_tx.send(request).is_err() {
                break;
            }
        }
    });
    (
        Stream {
            requests,
            responses,
        },
        UnboundedReceiverStream::new(resp_rx),
    )
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for FakeAds {
    type StreamAggregatedResourcesStream =
        UnboundedReceiverStream<Result<DiscoveryResponse, Status>>;
    type DeltaAggregatedResourcesStream =
        UnboundedReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamAggregatedResourcesStream>, Status> {
        let (stream, responses) = open(request.into_inner());
        self.sotw
            .send(stream)
            .map_err(|_| Status::unavailable("test over"))?;
        Ok(Response::new(responses))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaAggregatedResourcesStream>, Status> {
        let (stream, responses) = open(request.into_inner());
        self.delta
            .send(stream)
            .map_err(|_| Status::unavailable("test over"))?;
        Ok(Response::new(responses))
    }
}

impl Control {
    /// A fake control plane on `address` (port 0 for any).
    pub async fn start(address: SocketAddr) -> Self {
        let listener = TcpListener::bind(address).await.unwrap();
        let address = listener.local_addr().unwrap();
        let (sotw_tx, sotw) = mpsc::unbounded_channel();
        let (delta_tx, delta) = mpsc::unbounded_channel();
        let fake = FakeAds {
            sotw: sotw_tx,
            delta: delta_tx,
        };
        let server = tokio::spawn(async move {
            let _ = Server::builder()
                .add_service(AggregatedDiscoveryServiceServer::new(fake))
                .serve_with_incoming(TcpIncoming::from(listener))
                .await;
        });
        Self {
            address,
            sotw,
            delta,
            server,
        }
    }

    pub async fn sotw_stream(&mut self) -> SotwStream {
        within(self.sotw.recv()).await.expect("the server is up")
    }

    pub async fn delta_stream(&mut self) -> DeltaStream {
        within(self.delta.recv()).await.expect("the server is up")
    }

    /// Stops accepting; open streams end when the test drops them.
    pub fn stop(self) -> SocketAddr {
        self.server.abort();
        self.address
    }
}

impl<Req, Resp> Stream<Req, Resp> {
    pub async fn next(&mut self) -> Req {
        within(self.requests.recv())
            .await
            .expect("the client keeps the stream open")
    }

    pub fn send(&self, response: Resp) {
        self.responses
            .send(Ok(response))
            .expect("the stream is open");
    }
}

pub async fn within<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .expect("the client did not answer in time")
}

// === A client connected ===

/// A fake control plane with one ADS client connected, past the client's opening requests.
#[allow(dead_code)] // The SDS tests start this way; other test binaries drive the steps apart.
pub struct Connected<S> {
    /// The fake control plane, serving while this is kept.
    pub control: Control,
    /// The client.
    pub client: XdsClient,
    /// The client's stream, its first two requests (clusters, then listeners) read.
    pub stream: S,
}

impl Connected<SotwStream> {
    /// A state-of-the-world client of `store` on a fake control plane.
    #[allow(dead_code)]
    pub async fn sotw(store: Arc<ConfigStore>) -> Self {
        let mut control = Control::start("127.0.0.1:0".parse().unwrap()).await;
        let client = XdsClient::spawn(ads(control.address), node(), store, false);
        let mut stream = control.sotw_stream().await;
        assert_eq!(short_name(&stream.next().await.type_url), "Cluster");
        assert_eq!(short_name(&stream.next().await.type_url), "Listener");
        Self {
            control,
            client,
            stream,
        }
    }
}

impl Connected<DeltaStream> {
    /// A delta client of `store` on a fake control plane.
    #[allow(dead_code)]
    pub async fn delta(store: Arc<ConfigStore>) -> Self {
        let mut control = Control::start("127.0.0.1:0".parse().unwrap()).await;
        let client = XdsClient::spawn(ads(control.address), node(), store, true);
        let mut stream = control.delta_stream().await;
        assert_eq!(short_name(&stream.next().await.type_url), "Cluster");
        assert_eq!(short_name(&stream.next().await.type_url), "Listener");
        Self {
            control,
            client,
            stream,
        }
    }
}
