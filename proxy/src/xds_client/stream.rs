//! What the state-of-the-world and delta streams share: the queue their requests go through,
//! opening the stream, and the `error_detail` a NACK carries.

use std::future::Future;

use envoy_types::pb::{
    envoy::service::discovery::v3::{
        DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
        aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
    },
    google::rpc::Status as RpcStatus,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::{Streaming, transport::Channel};

use super::{INVALID_ARGUMENT, apply::Applier};

/// The request of one ADS protocol, and how its stream is opened.
pub(super) trait Request: Sized + Send + 'static {
    type Response;

    /// Opens the protocol's stream on `channel`, fed by `requests`.
    fn open(
        channel: Channel,
        requests: UnboundedReceiverStream<Self>,
    ) -> impl Future<Output = Result<tonic::Response<Streaming<Self::Response>>, tonic::Status>> + Send;
}

/// The sending end of a stream's requests. Requests sent before the stream opens wait in the
/// queue; the stream takes them in order.
#[derive(Debug)]
pub(super) struct Outbox<Q>(mpsc::UnboundedSender<Q>);

// === impl Outbox ===

impl<Q: Request> Outbox<Q> {
    /// A queue and the request stream it feeds, for [`open`].
    pub(super) fn new() -> (Self, UnboundedReceiverStream<Q>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(tx), UnboundedReceiverStream::new(rx))
    }

    /// Queues `request`.
    pub(super) fn send(&self, request: Q) {
        // The receiver lives as long as the stream; a failed send means the stream is over,
        // which reading its next response reports.
        let _ = self.0.send(request);
    }
}

// === impl Request ===

impl Request for DiscoveryRequest {
    type Response = DiscoveryResponse;

    async fn open(
        channel: Channel,
        requests: UnboundedReceiverStream<Self>,
    ) -> Result<tonic::Response<Streaming<DiscoveryResponse>>, tonic::Status> {
        AggregatedDiscoveryServiceClient::new(channel)
            .stream_aggregated_resources(requests)
            .await
    }
}

impl Request for DeltaDiscoveryRequest {
    type Response = DeltaDiscoveryResponse;

    async fn open(
        channel: Channel,
        requests: UnboundedReceiverStream<Self>,
    ) -> Result<tonic::Response<Streaming<DeltaDiscoveryResponse>>, tonic::Status> {
        AggregatedDiscoveryServiceClient::new(channel)
            .delta_aggregated_resources(requests)
            .await
    }
}

/// Opens the stream that `requests` feeds and marks the client connected.
pub(super) async fn open<Q: Request>(
    channel: Channel,
    requests: UnboundedReceiverStream<Q>,
    applier: &Applier,
) -> Result<Streaming<Q::Response>, tonic::Status> {
    let responses = Q::open(channel, requests).await?.into_inner();
    applier.state.set_connected(true);
    Ok(responses)
}

/// The `error_detail` of a NACK that says `message`.
pub(super) fn nack(message: String) -> RpcStatus {
    RpcStatus {
        code: INVALID_ARGUMENT,
        message,
        details: Vec::new(),
    }
}

/// The NACK message of a response whose `type_url` the client does not know.
pub(super) fn unsupported(type_url: &str) -> String {
    format!("unsupported xDS resource type {type_url:?}")
}
