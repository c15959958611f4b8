//! Endpoint churn under load: while requests flow through the proxy, EDS updates replace the
//! cluster's endpoints every few milliseconds, as a rolling deployment does. No request fails,
//! none reaches an endpoint the cluster never had, and once the churn stops every request goes
//! to the endpoints of the last update.

// Helpers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod serve_support;
mod support;

use std::{collections::BTreeMap, convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use envoy_types::pb::envoy::config::{
    cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
};
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response, body::Incoming, service::service_fn};
use hyper_util::{
    client::legacy::Client,
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use mesh_proxy::{
    capture::OriginalDst,
    config::{ConfigStore, DnsAnswers, Snapshot, apply_clusters, apply_endpoints, apply_listeners},
};
use tokio::net::TcpListener;

use self::{
    serve_support::start,
    support::bootstrap::{all_to, http_listener},
};

/// Upstreams, by the tag they answer with.
const TAGS: [&str; 4] = ["a", "b", "c", "d"];
/// EDS updates sent while the load runs, one every `UPDATE_EVERY`.
const UPDATES: usize = 60;
const UPDATE_EVERY: Duration = Duration::from_millis(3);
/// Clients sending at once, and requests each sends.
const CLIENTS: usize = 8;
const REQUESTS_PER_CLIENT: usize = 100;
/// How long the whole load may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(30);

/// An upstream answering every request with its tag, a little late so that requests are in
/// flight when the endpoints change.
async fn tagged_upstream(tag: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service_fn(move |_request: Request<Incoming>| async move {
                tokio::time::sleep(Duration::from_millis(1)).await;
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(tag.as_bytes()))))
            });
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    address
}

/// The listener `web`, routing everything to the cluster.
fn listener() -> Listener {
    mesh_xds::json::from_yaml(&http_listener("web", 8080, &all_to("churn"))).unwrap()
}

fn cluster() -> Cluster {
    mesh_xds::json::from_yaml(
        r#"
name: churn
type: EDS
eds_cluster_config: {eds_config: {ads: {}}}
connect_timeout: 1s
lb_policy: ROUND_ROBIN
"#,
    )
    .unwrap()
}

/// The assignment of `addresses` to the cluster.
fn assignment(addresses: &[SocketAddr]) -> ClusterLoadAssignment {
    let endpoints: Vec<String> = addresses
        .iter()
        .map(|a| {
            format!(
                "{{endpoint: {{address: {{socket_address: {{address: {}, port_value: {}}}}}}}}}",
                a.ip(),
                a.port()
            )
        })
        .collect();
    mesh_xds::json::from_yaml(&format!(
        "cluster_name: churn\nendpoints:\n- lb_endpoints: [{}]\n",
        endpoints.join(", ")
    ))
    .unwrap()
}

/// The endpoints of update `step`: two neighbours in the ring of upstreams, so each update
/// keeps one endpoint and replaces the other, as a rolling update does.
fn endpoints_at(step: usize, upstreams: &[SocketAddr]) -> Vec<SocketAddr> {
    vec![
        upstreams[step % upstreams.len()],
        upstreams[(step + 1) % upstreams.len()],
    ]
}

fn replace_endpoints(store: &ConfigStore, endpoints: &[SocketAddr]) {
    let update = assignment(endpoints);
    store
        .update(|snapshot| apply_endpoints(snapshot, std::slice::from_ref(&update), &[]))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_churn_under_load_fails_no_request() {
    let mut upstreams = Vec::new();
    for tag in TAGS {
        upstreams.push(tagged_upstream(tag).await);
    }
    let mut snapshot = Snapshot::default();
    apply_clusters(&mut snapshot, &[cluster()], &[], &DnsAnswers::default()).unwrap();
    apply_endpoints(
        &mut snapshot,
        &[assignment(&endpoints_at(0, &upstreams))],
        &[],
    )
    .unwrap();
    apply_listeners(&mut snapshot, &[listener()], &[]).unwrap();
    let (store, plane) = start(snapshot, OriginalDst::Socket, &["web"]).await;
    let url = format!("http://{}/", plane.bound()["web"]);

    let churn = {
        let store = Arc::clone(&store);
        let upstreams = upstreams.clone();
        tokio::spawn(async move {
            for step in 1..=UPDATES {
                tokio::time::sleep(UPDATE_EVERY).await;
                replace_endpoints(&store, &endpoints_at(step, &upstreams));
            }
        })
    };
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let load = (0..CLIENTS).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let mut answers = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for _ in 0..REQUESTS_PER_CLIENT {
                answers.push(get(&client, &url).await);
            }
            answers
        })
    });
    let answers = tokio::time::timeout(DEADLINE, async {
        let mut all = Vec::new();
        for client in load {
            all.extend(client.await.unwrap());
        }
        churn.await.unwrap();
        all
    })
    .await
    .expect("the load finished in time");

    let mut by_answer: BTreeMap<(u16, String), usize> = BTreeMap::new();
    for answer in answers {
        *by_answer.entry(answer).or_default() += 1;
    }
    assert_eq!(
        by_answer.values().sum::<usize>(),
        CLIENTS * REQUESTS_PER_CLIENT
    );
    assert!(
        by_answer
            .keys()
            .all(|(status, tag)| *status == 200 && TAGS.contains(&tag.as_str())),
        "answers during the churn: {by_answer:?}"
    );

    // The load spanned the churn: every upstream took a turn.
    let tags: std::collections::BTreeSet<&str> =
        by_answer.keys().map(|(_, tag)| tag.as_str()).collect();
    assert_eq!(
        tags.len(),
        TAGS.len(),
        "answers during the churn: {by_answer:?}"
    );

    // After the churn, only the last update's endpoints answer.
    let last: Vec<&str> = [UPDATES % TAGS.len(), (UPDATES + 1) % TAGS.len()]
        .iter()
        .map(|i| TAGS[*i])
        .collect();
    for _ in 0..20 {
        let (status, tag) = get(&client, &url).await;
        assert_eq!(status, 200);
        assert!(last.contains(&tag.as_str()), "{tag} is not in {last:?}");
    }
}

/// One GET: its status and body.
async fn get(
    client: &Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
    url: &str,
) -> (u16, String) {
    let request = Request::get(url).body(Empty::new()).unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}
