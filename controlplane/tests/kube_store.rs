//! The cluster store against an in-process API server that serves recorded lists and scripted
//! watch events: every kind is listed and watched as against a real cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use http::{Request, Response};
use kube::client::Body;
use mesh_common::load::{LoadError, Origin};
use mesh_controlplane::{mesh_config::MeshConfig, model::Snapshot, store::kube::KubeStore};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};
use tower_test::mock::{self, Handle, SendResponse};

const BAD_REASON: &str = "spec.http[0].route[0].weight: invalid type: string \"ten\", expected i32";
const PATIENCE: Duration = Duration::from_secs(20);

/// Watch events for the watch of one path, sent as one response.
type Script = (&'static str, Vec<Value>);

fn recorded(file: &str) -> String {
    let path = format!("{}/tests/data/kube/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

fn recorded_items(file: &str) -> Vec<Value> {
    let list: Value = serde_json::from_str(&recorded(file)).unwrap();
    list["items"].as_array().unwrap().clone()
}

fn response(status: u16, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .body(Body::from(body.into_bytes()))
        .unwrap()
}

/// Answers lists from the recorded files (an empty list for the kinds not recorded, a 404 for
/// the paths in `unserved`, a 403 for Secrets when `unserved` holds `403 /api/v1/secrets`), and each watch with the next script for its path; a watch with
/// no script waits for one.
async fn api_server(
    mut handle: Handle<Request<Body>, Response<Body>>,
    unserved: Vec<&'static str>,
    mut scripts: mpsc::UnboundedReceiver<Script>,
    queries: Queries,
) {
    let lists: BTreeMap<&str, String> = [
        ("/api/v1/namespaces", "namespaces.json"),
        ("/api/v1/services", "services.json"),
        ("/api/v1/pods", "pods.json"),
        (
            "/apis/discovery.k8s.io/v1/endpointslices",
            "endpointslices.json",
        ),
        (
            "/apis/networking.istio.io/v1/virtualservices",
            "virtualservices.json",
        ),
        ("/api/v1/secrets", "secrets.json"),
    ]
    .into_iter()
    .map(|(path, file)| (path, recorded(file)))
    .collect();
    let empty = json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "100"}, "items": []});
    let not_found = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "the server could not find the requested resource"});
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403, "message": "secrets is forbidden"});
    let mut waiting: BTreeMap<String, SendResponse<Response<Body>>> = BTreeMap::new();
    let mut queued: BTreeMap<String, Vec<Vec<Value>>> = BTreeMap::new();
    let events = |events: Vec<Value>| {
        let lines: Vec<String> = events.iter().map(Value::to_string).collect();
        response(200, lines.join("\n") + "\n")
    };
    loop {
        tokio::select! {
            request = handle.next_request() => {
                let Some((request, send)) = request else { return };
                let path = request.uri().path().to_string();
                let query = request.uri().query().unwrap_or_default();
                queries.send_modify(|q| q.push(format!("{path}?{query}")));
                if unserved.contains(&path.as_str()) {
                    send.send_response(response(404, not_found.to_string()));
                } else if unserved.contains(&"403 /api/v1/secrets") && path == "/api/v1/secrets" {
                    send.send_response(response(403, forbidden.to_string()));
                } else if !query.contains("watch=true") {
                    let list = lists.get(path.as_str()).cloned();
                    send.send_response(response(200, list.unwrap_or_else(|| empty.to_string())));
                } else if let Some(script) = queued.get_mut(&path).and_then(|q| q.pop()) {
                    send.send_response(events(script));
                } else {
                    waiting.insert(path, send);
                }
            }
            Some((path, script)) = scripts.recv() => {
                match waiting.remove(path) {
                    Some(send) => send.send_response(events(script)),
                    None => queued.entry(path.to_string()).or_default().insert(0, script),
                }
            }
        }
    }
}

/// Every request's path and query, in order.
type Queries = Arc<watch::Sender<Vec<String>>>;

struct Cluster {
    store: KubeStore,
    scripts: mpsc::UnboundedSender<Script>,
    queries: Queries,
}

fn cluster(unserved: Vec<&'static str>) -> Cluster {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    let (scripts, scripts_rx) = mpsc::unbounded_channel();
    let queries = Arc::new(watch::channel(Vec::new()).0);
    tokio::spawn(api_server(
        handle,
        unserved,
        scripts_rx,
        Arc::clone(&queries),
    ));
    let client = kube::Client::new(service, "default");
    let store = KubeStore::start(client, MeshConfig::default());
    Cluster {
        store,
        scripts,
        queries,
    }
}

async fn listed(store: &KubeStore) -> Arc<Snapshot> {
    let mut listed = store.listed();
    tokio::time::timeout(PATIENCE, listed.wait_for(|l| *l))
        .await
        .expect("every kind is listed")
        .unwrap();
    store.snapshots().borrow().clone()
}

/// Each service's hostname with its endpoints' addresses and `version` labels.
fn endpoints(snapshot: &Snapshot) -> Vec<(String, Vec<String>)> {
    let services = snapshot.services().iter();
    services
        .map(|s| {
            let endpoints = s.endpoints.iter().map(|e| {
                let version = e.labels.get("version").cloned().unwrap_or_default();
                format!("{} {version}", e.address)
            });
            (s.hostname.clone(), endpoints.collect())
        })
        .collect()
}

fn virtual_services(snapshot: &Snapshot) -> Vec<String> {
    let config = snapshot.config();
    let accepted = config
        .of_kind(mesh_common::api::Kind::VirtualService)
        .iter();
    let mut names: Vec<String> = accepted.map(|c| c.resource.name().to_string()).collect();
    names.sort();
    names
}

fn bad_vs_error() -> LoadError {
    LoadError {
        origin: Origin {
            file: "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices/ratings-canary"
                .into(),
            document: 0,
            line: 0,
            item: None,
        },
        kind: Some("VirtualService".into()),
        namespace: Some("bookinfo".into()),
        name: Some("ratings-canary".into()),
        reason: BAD_REASON.into(),
        first_defined: None,
    }
}

#[tokio::test]
async fn lists_every_kind_and_skips_the_malformed_resource() {
    let cluster = cluster(Vec::new());
    let snapshot = listed(&cluster.store).await;
    assert_eq!(
        endpoints(&snapshot),
        vec![
            (
                "productpage.bookinfo.svc.cluster.local".to_string(),
                vec!["10.244.1.10 v1".to_string()]
            ),
            (
                "reviews.bookinfo.svc.cluster.local".to_string(),
                vec!["10.244.1.20 v1".to_string(), "10.244.2.21 v2".to_string()]
            ),
        ]
    );
    assert_eq!(virtual_services(&snapshot), vec!["reviews"]);
    assert_eq!(cluster.store.errors().to_vec(), vec![bad_vs_error()]);
    assert_eq!(
        *cluster.store.watch_errors().borrow(),
        cluster.store.errors()
    );
}

#[tokio::test]
async fn a_kind_the_cluster_does_not_serve_does_not_hold_the_snapshot_back() {
    let cluster = cluster(vec!["/apis/networking.istio.io/v1/sidecars"]);
    let snapshot = listed(&cluster.store).await;
    assert_eq!(snapshot.services().len(), 2);
}

#[tokio::test]
async fn watch_events_change_the_snapshot() {
    let cluster = cluster(Vec::new());
    let first = listed(&cluster.store).await;

    let mut pod = recorded_items("pods.json").remove(2);
    pod["metadata"]["labels"]["version"] = json!("v3");
    pod["metadata"]["resourceVersion"] = json!("101");
    let mut slice = recorded_items("endpointslices.json").remove(0);
    slice["metadata"]["resourceVersion"] = json!("102");
    let mut vs = recorded_items("virtualservices.json").remove(0);
    vs["metadata"]["name"] = json!("details");
    vs["metadata"]["resourceVersion"] = json!("103");
    let mut fixed = recorded_items("virtualservices.json").remove(1);
    fixed["spec"]["http"][0]["route"][0]["weight"] = json!(100);
    fixed["metadata"]["resourceVersion"] = json!("104");
    let scripts: [Script; 3] = [
        (
            "/api/v1/pods",
            vec![json!({"type": "MODIFIED", "object": pod})],
        ),
        (
            "/apis/discovery.k8s.io/v1/endpointslices",
            vec![json!({"type": "DELETED", "object": slice})],
        ),
        (
            "/apis/networking.istio.io/v1/virtualservices",
            vec![
                json!({"type": "ADDED", "object": vs}),
                json!({"type": "MODIFIED", "object": fixed}),
            ],
        ),
    ];
    for script in scripts {
        cluster.scripts.send(script).unwrap();
    }

    let mut snapshots: watch::Receiver<Arc<Snapshot>> = cluster.store.snapshots();
    let expected = vec![
        ("productpage.bookinfo.svc.cluster.local".to_string(), vec![]),
        (
            "reviews.bookinfo.svc.cluster.local".to_string(),
            vec!["10.244.1.20 v1".to_string(), "10.244.2.21 v3".to_string()],
        ),
    ];
    let done = |s: &Arc<Snapshot>| {
        endpoints(s) == expected && virtual_services(s) == ["details", "ratings-canary", "reviews"]
    };
    let last = tokio::time::timeout(PATIENCE, snapshots.wait_for(done)).await;
    let last = match last {
        Ok(last) => last.unwrap().clone(),
        Err(_) => {
            let now = cluster.store.snapshots().borrow().clone();
            panic!(
                "the events did not reach the snapshot: {:?} {:?} {:?}",
                endpoints(&now),
                virtual_services(&now),
                now.config().rejected()
            )
        }
    };
    assert!(last.version() > first.version());
    let mut errors = cluster.store.watch_errors();
    tokio::time::timeout(PATIENCE, errors.wait_for(|e| e.is_empty()))
        .await
        .expect("the fixed resource's error is gone")
        .unwrap();
}

/// Each Secret that holds a credential, with what it holds, and each malformed one with why.
fn credentials(snapshot: &Snapshot) -> (Vec<String>, Vec<String>) {
    let credentials = snapshot.credentials();
    let held = ["reviews-tls", "ratings-client"]
        .into_iter()
        .filter_map(|name| {
            let credential = credentials.get("bookinfo", name)?.as_ref().ok()?;
            Some(format!(
                "{name}: certificate {}, ca {}",
                credential.certificate.is_some(),
                credential.ca.is_some()
            ))
        });
    let malformed = credentials
        .malformed()
        .map(|(key, error)| format!("{}/{}: {error}", key.namespace, key.name));
    (held.collect(), malformed.collect())
}

#[tokio::test]
async fn watches_the_secrets_that_can_be_credentials() {
    let cluster = cluster(Vec::new());
    let snapshot = listed(&cluster.store).await;
    assert_eq!(
        credentials(&snapshot),
        (
            vec!["reviews-tls: certificate true, ca true".to_string()],
            vec!["bookinfo/ratings-client: it has cert but not key".to_string()]
        )
    );
    // Service-account tokens and Helm's records are never listed.
    let lists: Vec<String> = cluster
        .queries
        .borrow()
        .iter()
        .filter(|q| q.starts_with("/api/v1/secrets?") && !q.contains("watch=true"))
        .cloned()
        .collect();
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert!(
        lists[0].contains(
            "fieldSelector=type%21%3Dkubernetes.io%2Fservice-account-token%2Ctype%21%3Dhelm.sh%2Frelease.v1"
        ),
        "{lists:?}"
    );

    let mut items = recorded_items("secrets.json");
    let mut fixed = items.remove(1);
    fixed["data"]["key"] =
        json!("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUUKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=");
    fixed["metadata"]["resourceVersion"] = json!("101");
    let mut deleted = items.remove(0);
    deleted["metadata"]["resourceVersion"] = json!("102");
    cluster
        .scripts
        .send((
            "/api/v1/secrets",
            vec![
                json!({"type": "MODIFIED", "object": fixed}),
                json!({"type": "DELETED", "object": deleted}),
            ],
        ))
        .unwrap();
    let expected = (
        vec!["ratings-client: certificate true, ca false".to_string()],
        Vec::<String>::new(),
    );
    let mut snapshots = cluster.store.snapshots();
    let changed =
        tokio::time::timeout(PATIENCE, snapshots.wait_for(|s| credentials(s) == expected));
    match changed.await {
        Ok(last) => assert!(last.unwrap().version() > snapshot.version()),
        Err(_) => panic!(
            "the events did not reach the snapshot: {:?}",
            credentials(&cluster.store.snapshots().borrow())
        ),
    }
}

#[tokio::test]
async fn secrets_the_cluster_forbids_do_not_hold_the_snapshot_back() {
    let cluster = cluster(vec!["403 /api/v1/secrets"]);
    let snapshot = listed(&cluster.store).await;
    assert_eq!(snapshot.services().len(), 2);
    assert_eq!(snapshot.credentials().len(), 0);
}
