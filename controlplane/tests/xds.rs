//! The xDS server over real gRPC: envoy-types' tonic client against `serve` on loopback, with
//! a generator that serves whatever the test puts in a `watch`.

// The helpers below are test code too: a failure should panic.
#![allow(clippy::unwrap_used)]

use std::{sync::Arc, time::Duration};

use envoy_types::pb::{
    envoy::{
        config::{cluster::v3::Cluster, core::v3::Node, endpoint::v3::ClusterLoadAssignment},
        service::discovery::v3::{
            DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
            aggregated_discovery_service_client::AggregatedDiscoveryServiceClient,
        },
    },
    google::rpc,
};
use mesh_controlplane::xds::{
    Changed, DebounceOptions, Encoded, GenerateError, Generator, Options, Scope, StatusRegistry,
    Subscription, TypeStatus, serve,
};
use mesh_testing::eventually;
use mesh_xds::{Resource, ResourceType};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Streaming, transport::Channel};

const CDS: ResourceType = ResourceType::Cluster;
const EDS: ResourceType = ResourceType::ClusterLoadAssignment;
/// Bounds every wait for a response; a correct server answers in milliseconds.
const PATIENCE: Duration = Duration::from_secs(10);

/// Serves whatever resources the test last published.
struct FakeGenerator(watch::Receiver<Vec<Resource>>);

impl Generator for FakeGenerator {
    fn generate(
        &self,
        _node: &Node,
        resource_type: ResourceType,
        subscription: &Subscription,
    ) -> Result<Vec<Arc<Encoded>>, GenerateError> {
        Ok(Encoded::all(
            self.0
                .borrow()
                .iter()
                .filter(|r| r.resource_type() == resource_type && subscription.contains(r.name()))
                .cloned(),
        ))
    }
}

/// A running server and the handles to change its config.
struct Harness {
    client: AggregatedDiscoveryServiceClient<Channel>,
    resources: watch::Sender<Vec<Resource>>,
    changes: watch::Sender<Changed>,
    status: Arc<StatusRegistry>,
}

impl Harness {
    async fn start(initial: Vec<Resource>) -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (resources, resources_rx) = watch::channel(initial);
        let (changes, changes_rx) = watch::channel(Changed::default());
        let status = Arc::new(StatusRegistry::new());
        let options = Options {
            debounce: DebounceOptions {
                quiet: Duration::from_millis(5),
                max_delay: Duration::from_millis(50),
            },
            status: Arc::clone(&status),
        };
        tokio::spawn(serve(
            listener,
            Arc::new(FakeGenerator(resources_rx)),
            changes_rx,
            options,
        ));
        let client = AggregatedDiscoveryServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        Harness {
            client,
            resources,
            changes,
            status,
        }
    }

    /// Publishes new resources and announces the change.
    fn change(&self, resources: Vec<Resource>, scope: Scope) {
        self.resources.send_replace(resources);
        self.changes.send_modify(|changed| {
            changed.version += 1;
            changed.scope = scope;
        });
    }

    /// Opens a state-of-the-world ADS stream: where to send its requests, and its responses.
    async fn sotw(&mut self) -> (mpsc::Sender<DiscoveryRequest>, Streaming<DiscoveryResponse>) {
        let (requests, requests_rx) = mpsc::channel(8);
        let responses = self
            .client
            .stream_aggregated_resources(ReceiverStream::new(requests_rx))
            .await
            .unwrap()
            .into_inner();
        (requests, responses)
    }

    /// Opens a delta ADS stream: where to send its requests, and its responses.
    async fn delta(
        &mut self,
    ) -> (
        mpsc::Sender<DeltaDiscoveryRequest>,
        Streaming<DeltaDiscoveryResponse>,
    ) {
        let (requests, requests_rx) = mpsc::channel(8);
        let responses = self
            .client
            .delta_aggregated_resources(ReceiverStream::new(requests_rx))
            .await
            .unwrap()
            .into_inner();
        (requests, responses)
    }

    async fn type_status(&self, node_id: &str, kind: ResourceType) -> Option<TypeStatus> {
        let snapshot = self.status.snapshot();
        let proxy = snapshot.proxies.iter().find(|p| p.node_id == node_id)?;
        proxy.types.get(kind.short_name()).cloned()
    }
}

fn node(id: &str) -> Node {
    Node {
        id: id.into(),
        ..Node::default()
    }
}

fn cluster(name: &str, stat_name: &str) -> Resource {
    Resource::from(Cluster {
        name: name.into(),
        alt_stat_name: stat_name.into(),
        ..Cluster::default()
    })
}

fn endpoints(name: &str) -> Resource {
    Resource::from(ClusterLoadAssignment {
        cluster_name: name.into(),
        ..ClusterLoadAssignment::default()
    })
}

fn sotw_request(id: &str, kind: ResourceType, version: &str, nonce: &str) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(node(id)),
        type_url: kind.type_url().into(),
        version_info: version.into(),
        response_nonce: nonce.into(),
        ..DiscoveryRequest::default()
    }
}

fn names(response: &DiscoveryResponse) -> Vec<(String, String)> {
    response
        .resources
        .iter()
        .map(|any| match Resource::decode_any(any).unwrap() {
            Resource::Cluster(c) => (c.name, c.alt_stat_name),
            other => (other.name().to_string(), String::new()),
        })
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

async fn next<T>(stream: &mut Streaming<T>) -> T {
    tokio::time::timeout(PATIENCE, stream.message())
        .await
        .expect("no response in time")
        .unwrap()
        .expect("stream ended")
}

#[tokio::test]
async fn sotw_ack_push_nack_and_fix() {
    let id = "sidecar~198.18.0.5~reviews-v1.bookinfo~bookinfo.svc.cluster.local";
    let mut harness = Harness::start(vec![cluster("a", "a1"), cluster("b", "b1")]).await;
    let (requests, mut responses) = harness.sotw().await;

    requests.send(sotw_request(id, CDS, "", "")).await.unwrap();
    let first = next(&mut responses).await;
    assert_eq!(first.type_url, CDS.type_url());
    assert_eq!(names(&first), pairs(&[("a", "a1"), ("b", "b1")]));
    requests
        .send(sotw_request(id, CDS, &first.version_info, &first.nonce))
        .await
        .unwrap();
    eventually(|| async {
        let status = harness.type_status(id, CDS).await?;
        (status.version_acked.as_ref() == Some(&first.version_info)).then_some(())
    })
    .await
    .unwrap();
    // Endpoints by name: `a` has none yet, so the response is empty.
    let eds = DiscoveryRequest {
        resource_names: vec!["a".into()],
        ..sotw_request(id, EDS, "", "")
    };
    requests.send(eds.clone()).await.unwrap();
    let no_endpoints = next(&mut responses).await;
    assert_eq!(no_endpoints.type_url, EDS.type_url());
    assert_eq!(names(&no_endpoints), pairs(&[]));
    let eds_ack = DiscoveryRequest {
        version_info: no_endpoints.version_info.clone(),
        response_nonce: no_endpoints.nonce.clone(),
        ..eds.clone()
    };
    requests.send(eds_ack).await.unwrap();

    // A config change is pushed; the proxy rejects it.
    harness.change(vec![cluster("a", "a1"), cluster("bad", "x")], Scope::All);
    let bad = next(&mut responses).await;
    assert_eq!(names(&bad), pairs(&[("a", "a1"), ("bad", "x")]));
    let nack = DiscoveryRequest {
        error_detail: Some(rpc::Status {
            code: 3,
            message: "cluster bad: no endpoints".into(),
            details: vec![],
        }),
        ..sotw_request(id, CDS, &first.version_info, &bad.nonce)
    };
    requests.send(nack).await.unwrap();
    let status = eventually(|| async {
        let status = harness.type_status(id, CDS).await?;
        status.last_nack.is_some().then_some(status)
    })
    .await
    .unwrap();
    assert_eq!(
        status.last_nack.as_deref(),
        Some("cluster bad: no endpoints")
    );
    assert_eq!(status.version_acked, Some(first.version_info.clone()));
    assert_eq!(status.version_sent, Some(bad.version_info.clone()));
    assert!(status.last_push_unix_ms.is_some());
    assert_eq!(harness.status.snapshot().nacks_total["Cluster"], 1);

    // A change that leaves the clusters as they were sends only the endpoints, not the
    // rejected clusters again.
    harness.change(
        vec![cluster("a", "a1"), cluster("bad", "x"), endpoints("a")],
        Scope::All,
    );
    let endpoints_a = next(&mut responses).await;
    assert_eq!(endpoints_a.type_url, EDS.type_url());
    assert_eq!(names(&endpoints_a), pairs(&[("a", "")]));
    harness.change(vec![cluster("a", "a1"), cluster("c", "c1")], Scope::All);
    let fixed = next(&mut responses).await;
    assert_eq!(names(&fixed), pairs(&[("a", "a1"), ("c", "c1")]));
    // Clusters before endpoints, and `a`'s endpoints are gone again.
    let emptied = next(&mut responses).await;
    assert_eq!(emptied.type_url, EDS.type_url());
    assert_eq!(names(&emptied), pairs(&[]));
    requests
        .send(sotw_request(id, CDS, &fixed.version_info, &fixed.nonce))
        .await
        .unwrap();
    eventually(|| async {
        let status = harness.type_status(id, CDS).await?;
        (status.version_acked.as_ref() == Some(&fixed.version_info) && status.last_nack.is_none())
            .then_some(())
    })
    .await
    .unwrap();
    let snapshot = harness.status.snapshot();
    assert_eq!(snapshot.proxies.len(), 1);
    assert_eq!(snapshot.proxies[0].protocol, "sotw");
    assert_eq!(snapshot.pushes_total["Cluster"], 3);
    assert_eq!(snapshot.pushes_total["ClusterLoadAssignment"], 3);
    assert_eq!(
        snapshot.proxies[0]
            .types
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        ["Cluster", "ClusterLoadAssignment"]
    );
    let json = serde_json::to_value(&snapshot).unwrap();
    assert_eq!(json["proxies"][0]["node_id"], id);

    // Hanging up removes the proxy.
    drop(requests);
    drop(responses);
    eventually(|| async { (harness.status.connected_proxies() == 0).then_some(()) })
        .await
        .unwrap();
}

#[tokio::test]
async fn pushes_reach_only_affected_namespaces() {
    let bookinfo = "sidecar~198.18.0.5~reviews-v1.bookinfo~bookinfo.svc.cluster.local";
    let other = "sidecar~198.18.0.6~app.other~other.svc.cluster.local";
    let mut harness = Harness::start(vec![cluster("a", "1")]).await;
    let mut streams = Vec::new();
    for id in [bookinfo, other] {
        let (requests, mut responses) = harness.sotw().await;
        requests.send(sotw_request(id, CDS, "", "")).await.unwrap();
        let first = next(&mut responses).await;
        assert_eq!(names(&first), pairs(&[("a", "1")]));
        streams.push((requests, responses));
    }

    // The proxy in `other` gets this change; the one in `bookinfo` does not.
    harness.change(
        vec![cluster("a", "2")],
        Scope::Namespaces(["other".to_string()].into()),
    );
    let pushed = next(&mut streams[1].1).await;
    assert_eq!(names(&pushed), pairs(&[("a", "2")]));
    harness.change(vec![cluster("a", "3")], Scope::All);
    let pushed = next(&mut streams[0].1).await;
    assert_eq!(names(&pushed), pairs(&[("a", "3")]));
}

#[tokio::test]
async fn delta_sends_changes_and_removals() {
    let id = "sidecar~198.18.0.7~ratings-v1.bookinfo~bookinfo.svc.cluster.local";
    let mut harness = Harness::start(vec![
        cluster("a", "1"),
        cluster("b", "1"),
        endpoints("a"),
        endpoints("b"),
    ])
    .await;
    let (requests, mut responses) = harness.delta().await;
    let request = |kind: ResourceType, subscribe: &[&str], nonce: &str| DeltaDiscoveryRequest {
        node: Some(node(id)),
        type_url: kind.type_url().into(),
        resource_names_subscribe: subscribe.iter().map(|n| n.to_string()).collect(),
        response_nonce: nonce.into(),
        ..DeltaDiscoveryRequest::default()
    };
    let sent = |response: &DeltaDiscoveryResponse| -> Vec<String> {
        response.resources.iter().map(|r| r.name.clone()).collect()
    };

    requests.send(request(CDS, &[], "")).await.unwrap();
    let clusters = next(&mut responses).await;
    assert_eq!(sent(&clusters), ["a", "b"]);
    requests
        .send(request(CDS, &[], &clusters.nonce))
        .await
        .unwrap();
    requests.send(request(EDS, &["b"], "")).await.unwrap();
    let endpoints_b = next(&mut responses).await;
    assert_eq!(endpoints_b.type_url, EDS.type_url());
    assert_eq!(sent(&endpoints_b), ["b"]);
    requests
        .send(request(EDS, &[], &endpoints_b.nonce))
        .await
        .unwrap();

    // `a` changes, `b` goes: clusters first, then b's endpoints are removed.
    harness.change(vec![cluster("a", "2"), endpoints("a")], Scope::All);
    let clusters = next(&mut responses).await;
    assert_eq!(clusters.type_url, CDS.type_url());
    assert_eq!(sent(&clusters), ["a"]);
    assert_eq!(clusters.removed_resources, ["b"]);
    let endpoints = next(&mut responses).await;
    assert_eq!(endpoints.type_url, EDS.type_url());
    assert!(endpoints.resources.is_empty());
    assert_eq!(endpoints.removed_resources, ["b"]);

    eventually(|| async {
        let snapshot = harness.status.snapshot();
        let proxy = snapshot.proxies.first()?;
        (proxy.protocol == "delta" && proxy.types.len() == 2).then_some(())
    })
    .await
    .unwrap();
}
