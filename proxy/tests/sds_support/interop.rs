//! A control plane for the SDS interop tests: it serves each proxy's ADS stream (state of the
//! world or delta) one cluster, no listeners, and the current secret, again whenever it
//! changes, and reports each proxy's ACK or NACK of the secret.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use envoy_types::pb::envoy::{
    config::cluster::v3::Cluster, extensions::transport_sockets::tls::v3::Secret,
    service::discovery::v3::DiscoveryResponse,
};
use mesh_xds::resource::ResourceType;
use tokio::sync::{mpsc, watch};

use crate::ads_support::{Control, DeltaStream, SotwStream, any, delta};

/// How long a proxy may take to apply an update or to serve.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Starts the control plane on loopback: every stream gets `cluster` and the secret `current`
/// holds, Envoy's in state of the world (a bootstrap's `GRPC`), mesh-proxy's in delta (its
/// default). Its address, and the proxies' answers to secret responses.
pub async fn start(
    cluster: Cluster,
    current: watch::Receiver<(String, Secret)>,
) -> (SocketAddr, mpsc::UnboundedReceiver<Answer>) {
    let Control {
        address,
        mut sotw,
        delta: mut deltas,
        ..
    } = Control::start("127.0.0.1:0".parse().unwrap()).await;
    let (answers_tx, answers) = mpsc::unbounded_channel();
    let (cluster_d, current_d, answers_d) = (cluster.clone(), current.clone(), answers_tx.clone());
    tokio::spawn(async move {
        while let Some(stream) = deltas.recv().await {
            let (cluster, current, answers) =
                (cluster_d.clone(), current_d.clone(), answers_d.clone());
            tokio::spawn(serve_delta(stream, cluster, current, answers));
        }
    });
    tokio::spawn(async move {
        while let Some(stream) = sotw.recv().await {
            tokio::spawn(serve(
                stream,
                cluster.clone(),
                current.clone(),
                answers_tx.clone(),
            ));
        }
    });
    (address, answers)
}

/// A proxy's answer to a secret response: its node, the response's version, the NACK's text.
#[derive(Debug)]
pub struct Answer {
    pub node: String,
    pub version: String,
    pub error: Option<String>,
}

/// Serves one proxy's stream: the cluster, no listeners, and the current secret (version,
/// secret) to a proxy that asks for it, again whenever it changes. Each ACK or NACK of a secret
/// response goes to `answers`.
async fn serve(
    mut stream: SotwStream,
    cluster: Cluster,
    mut secret: watch::Receiver<(String, Secret)>,
    answers: mpsc::UnboundedSender<Answer>,
) {
    let mut node = String::new();
    let mut nonce = 0u64;
    // Per type URL: the last response's nonce, version and the names it answered.
    let mut sent: HashMap<String, (String, String, Vec<String>)> = HashMap::new();
    let mut secret_names: Option<Vec<String>> = None;
    // Bounded by the stream: it ends when the proxy goes.
    loop {
        let (type_url, names) = tokio::select! {
            request = stream.requests.recv() => {
                let Some(request) = request else { return };
                if let Some(id) = request.node.as_ref().map(|n| n.id.clone()).filter(|id| !id.is_empty()) {
                    node = id;
                }
                let mut names = request.resource_names.clone();
                names.sort();
                if let Some((last, version, answered)) = sent.get(&request.type_url)
                    && *last == request.response_nonce
                    && *answered == names
                {
                    if request.type_url == ResourceType::Secret.type_url() {
                        let _ = answers.send(Answer {
                            node: node.clone(),
                            version: version.clone(),
                            error: request.error_detail.map(|e| e.message),
                        });
                    }
                    continue;
                }
                if request.type_url == ResourceType::Secret.type_url() {
                    secret_names = Some(names.clone());
                }
                (request.type_url, names)
            }
            changed = secret.changed() => {
                if changed.is_err() {
                    return;
                }
                let Some(names) = secret_names.clone() else { continue };
                (ResourceType::Secret.type_url().to_owned(), names)
            }
        };
        nonce += 1;
        let (version, resources) = match ResourceType::from_type_url(&type_url) {
            Some(ResourceType::Cluster) => ("c1".to_owned(), vec![any(cluster.clone())]),
            Some(ResourceType::Listener) => ("l1".to_owned(), Vec::new()),
            Some(ResourceType::Secret) => {
                let (version, current) = secret.borrow().clone();
                let wanted = names.contains(&current.name);
                (
                    version,
                    if wanted {
                        vec![any(current)]
                    } else {
                        Vec::new()
                    },
                )
            }
            _ => continue,
        };
        sent.insert(
            type_url.clone(),
            (nonce.to_string(), version.clone(), names),
        );
        stream.send(DiscoveryResponse {
            version_info: version,
            resources,
            type_url,
            nonce: nonce.to_string(),
            ..DiscoveryResponse::default()
        });
    }
}

/// As [`serve`], for a delta stream: the secret is sent once subscribed, and again when it
/// changes.
async fn serve_delta(
    mut stream: DeltaStream,
    cluster: Cluster,
    mut secret: watch::Receiver<(String, Secret)>,
    answers: mpsc::UnboundedSender<Answer>,
) {
    let mut node = String::new();
    let mut nonce = 0u64;
    // The nonce and version of the last secret response.
    let mut secret_sent: Option<(String, String)> = None;
    let mut subscribed = false;
    // Bounded by the stream: it ends when the proxy goes.
    loop {
        let kind = tokio::select! {
            request = stream.requests.recv() => {
                let Some(request) = request else { return };
                if let Some(id) = request.node.as_ref().map(|n| n.id.clone()).filter(|id| !id.is_empty()) {
                    node = id;
                }
                let kind = ResourceType::from_type_url(&request.type_url);
                if !request.response_nonce.is_empty() {
                    if let Some((last, version)) = &secret_sent
                        && *last == request.response_nonce
                    {
                        let _ = answers.send(Answer {
                            node: node.clone(),
                            version: version.clone(),
                            error: request.error_detail.map(|e| e.message),
                        });
                    }
                    continue;
                }
                if kind == Some(ResourceType::Secret) {
                    let name = secret.borrow().1.name.clone();
                    subscribed = request.resource_names_subscribe.contains(&name);
                }
                kind
            }
            changed = secret.changed() => {
                if changed.is_err() {
                    return;
                }
                if !subscribed {
                    continue;
                }
                Some(ResourceType::Secret)
            }
        };
        nonce += 1;
        let nonce_text = nonce.to_string();
        let resources = match kind {
            Some(ResourceType::Cluster) => {
                vec![(cluster.name.clone(), "c1".to_owned(), any(cluster.clone()))]
            }
            Some(ResourceType::Secret) if subscribed => {
                let (version, current) = secret.borrow().clone();
                secret_sent = Some((nonce_text.clone(), version.clone()));
                vec![(current.name.clone(), version, any(current))]
            }
            Some(ResourceType::Listener | ResourceType::Secret) => Vec::new(),
            _ => continue,
        };
        let Some(kind) = kind else { continue };
        let resources = resources
            .iter()
            .map(|(name, version, any)| (name.as_str(), version.as_str(), any.clone()))
            .collect();
        stream.send(delta(kind, &nonce_text, resources, &[]));
    }
}

/// The answers of both proxies to the secret response of `version`, by node.
pub async fn answers_to(
    answers: &mut mpsc::UnboundedReceiver<Answer>,
    version: &str,
    nodes: [&str; 2],
) -> Vec<Option<String>> {
    let mut found: HashMap<String, Option<String>> = HashMap::new();
    while !nodes.iter().all(|n| found.contains_key(*n)) {
        let answer = tokio::time::timeout(PATIENCE, answers.recv())
            .await
            .expect("both proxies answer the secret response")
            .expect("the control plane runs");
        if answer.version == version {
            found.insert(answer.node, answer.error);
        }
    }
    nodes.iter().map(|n| found[*n].clone()).collect()
}
