//! A sidecar's side of the control plane for the run tests: one ADS stream driven request by
//! request, and plain HTTP to the monitoring server.

#![allow(dead_code)] // Each test binary uses a different part.

use std::{net::SocketAddr, time::Duration};

use envoy_types::pb::envoy::{
    config::core::v3::Node,
    service::discovery::v3::{
        DiscoveryRequest, DiscoveryResponse,
        aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
    },
};
use mesh_xds::{Resource, ResourceType};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
    time::timeout,
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;

/// Bounds every wait; a correct control plane answers in milliseconds.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// `GET path` on the monitoring server: the status code and the body.
pub async fn get(address: SocketAddr, path: &str) -> (u16, String) {
    let exchange = async {
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response
    };
    let response = timeout(PATIENCE, exchange)
        .await
        .expect("no HTTP answer in time");
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

/// One ADS stream of a sidecar identified by `node`.
pub struct Sidecar {
    node: Node,
    requests: mpsc::Sender<DiscoveryRequest>,
    responses: Streaming<DiscoveryResponse>,
}

impl Sidecar {
    pub async fn connect(address: SocketAddr, node: Node) -> Sidecar {
        let mut client = AggregatedDiscoveryServiceClient::connect(format!("http://{address}"))
            .await
            .unwrap();
        let (requests, rx) = mpsc::channel(8);
        let responses = client
            .stream_aggregated_resources(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        Sidecar {
            node,
            requests,
            responses,
        }
    }

    pub async fn send(
        &self,
        kind: ResourceType,
        names: &[&str],
        acked: Option<&DiscoveryResponse>,
    ) {
        let request = DiscoveryRequest {
            node: Some(self.node.clone()),
            type_url: kind.type_url().to_string(),
            resource_names: names.iter().map(|n| n.to_string()).collect(),
            version_info: acked.map(|r| r.version_info.clone()).unwrap_or_default(),
            response_nonce: acked.map(|r| r.nonce.clone()).unwrap_or_default(),
            ..DiscoveryRequest::default()
        };
        self.requests.send(request).await.unwrap();
    }

    pub async fn next(&mut self) -> DiscoveryResponse {
        timeout(PATIENCE, self.responses.message())
            .await
            .expect("no response in time")
            .unwrap()
            .expect("the stream ended")
    }

    /// The stream's next message as it comes: `Ok(None)` once the server ended it.
    pub async fn message(&mut self) -> Result<Option<DiscoveryResponse>, tonic::Status> {
        self.responses.message().await
    }

    /// Subscribes to `kind` and ACKs the response.
    pub async fn subscribe(&mut self, kind: ResourceType, names: &[&str]) -> DiscoveryResponse {
        self.send(kind, names, None).await;
        let response = self.next().await;
        assert_eq!(response.type_url, kind.type_url());
        self.send(kind, names, Some(&response)).await;
        response
    }
}

pub fn resources(response: &DiscoveryResponse) -> Vec<Resource> {
    response
        .resources
        .iter()
        .map(|any| Resource::decode_any(any).unwrap())
        .collect()
}

pub fn names(response: &DiscoveryResponse) -> Vec<String> {
    resources(response)
        .iter()
        .map(|r| r.name().to_string())
        .collect()
}
