//! A Kubernetes API server over real HTTP on loopback, for tests that reach it through a
//! kubeconfig: it lists one Service in `default` (ratings, with its EndpointSlice, Pod and
//! Namespace), an empty list of every other kind, and streams the watch events a test sends.

use std::{collections::BTreeMap, convert::Infallible, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::{body::Frame, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

/// The resource version of every list; events carry later ones.
const LIST_VERSION: u64 = 100;

type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A running fake API server; dropping it stops it.
pub struct FakeApi {
    address: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

struct State {
    lists: BTreeMap<&'static str, Vec<Value>>,
    /// The lists that wait for [`FakeApi::release`].
    held: Vec<&'static str>,
    released: watch::Sender<bool>,
    /// Every event sent so far: the watch path, the event's resource version and the event.
    events: watch::Sender<Vec<(String, u64, Value)>>,
}

impl FakeApi {
    /// Serves on an ephemeral port; the lists of `held` paths wait for [`FakeApi::release`].
    pub async fn start(held: &[&'static str]) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let lists = BTreeMap::from([
            ("/api/v1/namespaces", vec![namespace()]),
            ("/api/v1/services", vec![ratings_service()]),
            ("/api/v1/pods", vec![ratings_pod()]),
            (
                "/apis/discovery.k8s.io/v1/endpointslices",
                vec![ratings_slice(&["198.18.0.20"], "31")],
            ),
        ]);
        let state = Arc::new(State {
            lists,
            held: held.to_vec(),
            released: watch::channel(false).0,
            events: watch::channel(Vec::new()).0,
        });
        let serving = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&serving);
                let service = service_fn(move |request| respond(Arc::clone(&state), request));
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        FakeApi {
            address,
            state,
            task,
        }
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Answers the held lists.
    pub fn release(&self) {
        self.state.released.send_replace(true);
    }

    /// Sends `event` to the watches of `path`, now and after they reconnect.
    pub fn event(&self, path: &str, event: Value) {
        let version = event["object"]["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .expect("the event's object has a numeric resourceVersion");
        self.state
            .events
            .send_modify(|events| events.push((path.to_string(), version, event)));
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn respond(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or_default().to_string();
    let parameter = |name: &str| {
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| value.to_string())
        })
    };
    if parameter("watch").as_deref() == Some("true") {
        let since = parameter("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(LIST_VERSION);
        return Ok(watch_response(&state, path, since));
    }
    if state.held.contains(&path.as_str()) {
        let mut released = state.released.subscribe();
        let _ = released.wait_for(|released| *released).await;
    }
    let items = state.lists.get(path.as_str()).cloned().unwrap_or_default();
    let list = json!({
        "apiVersion": "v1", "kind": "List",
        "metadata": {"resourceVersion": LIST_VERSION.to_string()},
        "items": items,
    });
    let body = Full::new(Bytes::from(list.to_string())).boxed_unsync();
    Ok(Response::new(body))
}

/// A watch: the events of `path` newer than `since`, as they come, one JSON object a line; the
/// response stays open.
fn watch_response(state: &State, path: String, since: u64) -> Response<Body> {
    let events = state.events.subscribe();
    let lines = stream::unfold((events, 0), move |(mut events, mut seen)| {
        let path = path.clone();
        async move {
            loop {
                let lines: String = {
                    let all = events.borrow_and_update();
                    let new = all[seen..]
                        .iter()
                        .filter(|(p, version, _)| *p == path && *version > since);
                    let lines = new.map(|(_, _, event)| format!("{event}\n")).collect();
                    seen = all.len();
                    lines
                };
                if !lines.is_empty() {
                    return Some((Ok(Frame::data(Bytes::from(lines))), (events, seen)));
                }
                events.changed().await.ok()?;
            }
        }
    });
    let mut response = Response::new(StreamBody::new(lines.boxed()).boxed_unsync());
    *response.status_mut() = StatusCode::OK;
    response
}

fn namespace() -> Value {
    json!({"metadata": {"name": "default", "resourceVersion": "11"}})
}

fn ratings_service() -> Value {
    json!({
        "metadata": {"name": "ratings", "namespace": "default", "resourceVersion": "21",
                     "labels": {"app": "ratings"}},
        "spec": {"clusterIP": "198.19.0.20", "selector": {"app": "ratings"},
                 "ports": [{"name": "http", "protocol": "TCP", "port": 9080, "targetPort": 9080}]},
    })
}

fn ratings_pod() -> Value {
    json!({
        "metadata": {"name": "ratings-v1-1", "namespace": "default", "resourceVersion": "41",
                     "labels": {"app": "ratings", "version": "v1"}},
        "spec": {"serviceAccountName": "bookinfo-ratings", "containers": [{"name": "ratings"}]},
        "status": {"phase": "Running", "podIP": "198.18.0.20", "podIPs": [{"ip": "198.18.0.20"}]},
    })
}

/// The EndpointSlice of ratings with one ready endpoint per address, at `version`.
pub fn ratings_slice(addresses: &[&str], version: &str) -> Value {
    let endpoints: Vec<Value> = addresses
        .iter()
        .map(|address| {
            let mut endpoint = json!({"addresses": [address], "conditions": {"ready": true, "serving": true, "terminating": false}});
            // The listed pod holds the first address.
            if *address == "198.18.0.20" {
                endpoint["targetRef"] = json!({"kind": "Pod", "namespace": "default", "name": "ratings-v1-1"});
            }
            endpoint
        })
        .collect();
    json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "ratings-x7k2p", "namespace": "default", "resourceVersion": version,
                     "labels": {"kubernetes.io/service-name": "ratings"}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "http", "protocol": "TCP", "port": 9080}],
    })
}
