//! A config change reaches a proxy one debounce window after it was made, a lone endpoint
//! change at once: the store lets a burst settle for the window unless it changed endpoints
//! alone, and the xDS server adds no window of its own. On tokio's paused clock the time is
//! exact.

use std::path::Path;

use envoy_types::pb::envoy::{
    config::{
        core::v3::{Node, address},
        endpoint::v3::{ClusterLoadAssignment, lb_endpoint::HostIdentifier},
    },
    service::discovery::v3::{DiscoveryRequest, DiscoveryResponse},
};
use mesh_common::load::{LoadOptions, LoadedKind, Loader};
use mesh_xds::{Resource, ResourceType};
use tokio::{
    sync::mpsc,
    time::{Instant, timeout},
};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tonic::Status;

use pretty_assertions::assert_eq;

use super::*;
use crate::{
    server::{
        control_plane::XDS_DEBOUNCE,
        fixtures::{API_1, WEB_1, WEB_2, service},
    },
    store::{
        Window,
        kube::{Item, KubeStore, Update},
    },
    xds::{Outgoing, debounce::debounce, sotw::SotwConnection, stream},
};

const WINDOW: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_secs(1);
const NODE: &str = "sidecar~198.18.0.20~api-0.b~b.svc.cluster.local";
const WEB_CLUSTER: &str = "outbound|80||web.a.svc.cluster.local";
const KINDS: [LoadedKind; 3] = [
    LoadedKind::Service,
    LoadedKind::EndpointSlice,
    LoadedKind::Pod,
];

/// The objects of `yaml`, as the watches would deliver them.
fn items(yaml: &str) -> Vec<Item> {
    let mut loader = Loader::new(LoadOptions::default());
    loader.add_str(yaml, Path::new("cluster.yaml"));
    let loaded = loader.finish();
    assert_eq!(loaded.errors, vec![], "the fixture loads");
    loaded
        .resources
        .into_iter()
        .map(|l| Item::of(l.object))
        .collect()
}

fn request(
    kind: ResourceType,
    names: &[&str],
    acked: Option<&DiscoveryResponse>,
) -> DiscoveryRequest {
    DiscoveryRequest {
        node: Some(Node {
            id: NODE.to_string(),
            ..Node::default()
        }),
        type_url: kind.type_url().to_string(),
        resource_names: names.iter().map(|n| n.to_string()).collect(),
        version_info: acked.map(|r| r.version_info.clone()).unwrap_or_default(),
        response_nonce: acked.map(|r| r.nonce.clone()).unwrap_or_default(),
        ..DiscoveryRequest::default()
    }
}

/// The endpoint addresses of an EDS response.
fn addresses(response: &DiscoveryResponse) -> Vec<String> {
    let assignments = response
        .resources
        .iter()
        .filter_map(|any| match Resource::decode_any(any) {
            Ok(Resource::ClusterLoadAssignment(assignment)) => Some(assignment),
            _ => None,
        });
    assignments
        .flat_map(|assignment: Box<ClusterLoadAssignment>| assignment.endpoints)
        .flat_map(|locality| locality.lb_endpoints)
        .filter_map(|endpoint| match endpoint.host_identifier? {
            HostIdentifier::Endpoint(endpoint) => match endpoint.address?.address? {
                address::Address::SocketAddress(socket) => Some(socket.address),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

async fn recv(
    responses: &mut mpsc::Receiver<Result<Outgoing<DiscoveryResponse>, Status>>,
) -> DiscoveryResponse {
    let response = timeout(PATIENCE, responses.recv())
        .await
        .expect("a response in time")
        .expect("the stream is open");
    response.expect("a response, not an error").into_message()
}

/// A proxy of `api` following `web`'s load assignment, served through the control plane's chain
/// from a cluster store fed by hand, which has listed `web` with one pod.
struct Served {
    updates: mpsc::UnboundedSender<Update>,
    responses: mpsc::Receiver<Result<Outgoing<DiscoveryResponse>, Status>>,
    // Kept so that the store and the stream last as long as the test.
    _store: KubeStore,
    _requests: mpsc::UnboundedSender<Result<DiscoveryRequest, Status>>,
}

fn web(pods: &[&str]) -> String {
    service("web", "a", "198.19.0.10", pods)
}

async fn served() -> Served {
    let api = service("api", "b", "198.19.0.20", &[API_1]);
    let (updates, updates_rx) = mpsc::unbounded_channel();
    let window = Window::for_store(WINDOW, MAX_DELAY, false);
    let store = KubeStore::from_updates(updates_rx, KINDS.to_vec(), MeshConfig::default(), window);
    for kind in KINDS {
        updates.send(Update::Relist(kind)).unwrap();
    }
    for item in items(&format!("{}{api}", web(&[WEB_1]))) {
        updates.send(Update::Listed(item)).unwrap();
    }
    for kind in KINDS {
        updates.send(Update::RelistDone(kind)).unwrap();
    }
    store.listed().wait_for(|listed| *listed).await.unwrap();

    // The control plane's chain from snapshots to streams.
    let generator = Arc::new(ModelGenerator::new(
        store.snapshots(),
        Arc::new(Metrics::new()),
    ));
    let status = Arc::new(StatusRegistry::new());
    let (changes_tx, changes) = watch::channel(Changed::default());
    let (pushes_tx, pushes) = watch::channel(Changed::default());
    tokio::spawn(announce(
        store.snapshots(),
        changes_tx,
        Arc::clone(&generator),
        Arc::clone(&status),
    ));
    tokio::spawn(debounce(changes, pushes_tx, XDS_DEBOUNCE));
    let (requests, requests_rx) = mpsc::unbounded_channel::<Result<DiscoveryRequest, Status>>();
    let (responses_tx, mut responses) = mpsc::channel(16);
    let shared = stream::Shared {
        generator: generator.clone(),
        pushes,
        status,
        closing: None,
    };
    tokio::spawn(stream::run(
        SotwConnection::new(),
        UnboundedReceiverStream::new(requests_rx),
        responses_tx,
        shared,
    ));
    let eds = ResourceType::ClusterLoadAssignment;
    requests
        .send(Ok(request(eds, &[WEB_CLUSTER], None)))
        .unwrap();
    let first = recv(&mut responses).await;
    assert_eq!(first.type_url, eds.type_url());
    assert_eq!(addresses(&first), [WEB_1]);
    requests
        .send(Ok(request(eds, &[WEB_CLUSTER], Some(&first))))
        .unwrap();
    Served {
        updates,
        responses,
        _store: store,
        _requests: requests,
    }
}

#[tokio::test(start_paused = true)]
async fn a_change_with_a_service_reaches_a_proxy_one_debounce_window_after_it_was_made() {
    let mut served = served().await;
    // The Service comes first (unchanged, as a re-apply sends it): the burst waits the window.
    let made = Instant::now();
    for item in items(&web(&[WEB_1, WEB_2])) {
        served.updates.send(Update::Apply(item)).unwrap();
    }
    let pushed = recv(&mut served.responses).await;
    assert_eq!(made.elapsed(), WINDOW);
    assert_eq!(
        pushed.type_url,
        ResourceType::ClusterLoadAssignment.type_url()
    );
    assert_eq!(addresses(&pushed), [WEB_1, WEB_2]);
}

#[tokio::test(start_paused = true)]
async fn a_lone_endpoint_change_reaches_a_proxy_at_once() {
    let mut served = served().await;
    // Past the window of the listing: the change is lone.
    tokio::time::sleep(WINDOW).await;
    let made = Instant::now();
    // The new pod, then the slice naming it, as the watches deliver them.
    let endpoints = items(&web(&[WEB_1, WEB_2]))
        .into_iter()
        .filter(|item| matches!(item.key.kind, LoadedKind::Pod | LoadedKind::EndpointSlice));
    let mut sent = 0;
    for item in endpoints {
        served.updates.send(Update::Apply(item)).unwrap();
        sent += 1;
    }
    assert_eq!(sent, 3, "two pods and one slice");
    let pushed = recv(&mut served.responses).await;
    assert_eq!(made.elapsed(), Duration::ZERO);
    assert_eq!(
        pushed.type_url,
        ResourceType::ClusterLoadAssignment.type_url()
    );
    assert_eq!(addresses(&pushed), [WEB_1, WEB_2]);
}
