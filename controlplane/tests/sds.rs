//! SDS end to end: the control plane in file mode serves the Secrets of its config directory
//! to proxies that subscribe to them by name, over state-of-the-world and delta ADS, each proxy
//! only the Secrets of its own namespace, and pushes a Secret's change to its subscribers.

// The helpers below are test code too: a failure should panic.
#![allow(clippy::unwrap_used)]

mod ads_sidecar;

use std::{fs, net::SocketAddr, path::Path, time::Duration};

use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::{
    envoy::{
        config::core::v3::{DataSource, Node, data_source::Specifier},
        extensions::transport_sockets::tls::v3::{Secret, secret},
        service::discovery::v3::{DeltaDiscoveryRequest, DeltaDiscoveryResponse},
    },
    google::protobuf::Struct,
};
use mesh_common::well_known::node_metadata;
use mesh_controlplane::{
    mesh_config::MeshConfig,
    server::{Config, ControlPlane, Source},
    translate::string_value,
};
use mesh_testing::eventually;
use mesh_xds::{Resource, ResourceType};
use serde_json::{Value, json};
use tokio::{sync::mpsc, time::timeout};
use tokio_stream::wrappers::ReceiverStream;

use self::ads_sidecar::{PATIENCE, Sidecar, get, resources};

const SDS: ResourceType = ResourceType::Secret;
const SHOP_GATEWAY: &str = "router~198.18.0.9~gateway-1.shop~shop.svc.cluster.local";
const BANK_GATEWAY: &str = "router~198.18.0.19~gateway-1.bank~bank.svc.cluster.local";
const SHOP_CERT: &str = "-----BEGIN CERTIFICATE-----\nc2hvcA==\n-----END CERTIFICATE-----\n";
const BANK_CERT: &str = "-----BEGIN CERTIFICATE-----\nYmFuaw==\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n";
const CA: &str = "-----BEGIN CERTIFICATE-----\nY2E=\n-----END CERTIFICATE-----\n";
const NEW_CA: &str = "-----BEGIN CERTIFICATE-----\nbmV3\n-----END CERTIFICATE-----\n";

fn node(id: &str, namespace: &str) -> Node {
    let fields = [(node_metadata::NAMESPACE, string_value(namespace))];
    Node {
        id: id.to_string(),
        metadata: Some(Struct {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        }),
        ..Node::default()
    }
}

/// A `kubernetes.io/tls` Secret, PEM in `stringData`.
fn tls_secret(namespace: &str, name: &str, cert: &str, ca: Option<&str>) -> String {
    let quoted = |pem: &str| format!("\"{}\"", pem.replace('\n', "\\n"));
    let ca = ca.map_or(String::new(), |ca| format!("  ca.crt: {}\n", quoted(ca)));
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\n\
         type: kubernetes.io/tls\nstringData:\n  tls.crt: {}\n  tls.key: {}\n{ca}",
        quoted(cert),
        quoted(KEY)
    )
}

/// Writes a file as editors do: a temporary file renamed over the old one.
fn save(dir: &Path, name: &str, text: &str) {
    let temporary = dir.join(format!(".{name}.tmp"));
    fs::write(&temporary, text).unwrap();
    fs::rename(&temporary, dir.join(name)).unwrap();
}

async fn start(dir: &Path) -> ControlPlane {
    save(
        dir,
        "shop.yaml",
        &tls_secret("shop", "web", SHOP_CERT, Some(CA)),
    );
    save(
        dir,
        "bank.yaml",
        &tls_secret("bank", "web", BANK_CERT, None),
    );
    ControlPlane::start(Config {
        source: Source::ConfigDirs(vec![dir.to_path_buf()]),
        xds_address: "127.0.0.1:0".parse().unwrap(),
        monitoring_address: "127.0.0.1:0".parse().unwrap(),
        debounce: Duration::from_millis(20),
        debounce_endpoints: false,
        mesh: MeshConfig::default(),
    })
    .await
    .unwrap()
}

fn inline(pem: &str) -> Option<DataSource> {
    Some(DataSource {
        specifier: Some(Specifier::InlineBytes(pem.as_bytes().to_vec())),
        ..DataSource::default()
    })
}

/// Each secret as `name: what it holds`.
fn show(secrets: impl IntoIterator<Item = Secret>) -> Vec<String> {
    let pem = |source: &Option<DataSource>| match source.as_ref().and_then(|s| s.specifier.as_ref())
    {
        Some(Specifier::InlineBytes(bytes)) => String::from_utf8(bytes.clone()).unwrap(),
        other => panic!("not inline bytes: {other:?}"),
    };
    let show = |secret: Secret| match secret.r#type {
        Some(secret::Type::TlsCertificate(c)) => {
            assert_eq!(c.private_key, inline(KEY), "{}", secret.name);
            format!("{}: certificate {}", secret.name, pem(&c.certificate_chain))
        }
        Some(secret::Type::ValidationContext(v)) => {
            format!("{}: ca {}", secret.name, pem(&v.trusted_ca))
        }
        other => panic!("{}: unexpected {other:?}", secret.name),
    };
    secrets.into_iter().map(show).collect()
}

fn secrets_of(
    response: &envoy_types::pb::envoy::service::discovery::v3::DiscoveryResponse,
) -> Vec<String> {
    show(resources(response).into_iter().map(|r| match r {
        Resource::Secret(secret) => *secret,
        other => panic!("not a secret: {other:?}"),
    }))
}

async fn get_json(address: SocketAddr, path: &str) -> Value {
    let (code, body) = get(address, path).await;
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sotw_serves_own_namespace_secrets_and_pushes_their_changes() {
    let dir = tempfile::tempdir().unwrap();
    let control_plane = start(dir.path()).await;
    let monitoring = control_plane.monitoring_address();
    let names = [
        "kubernetes://web",
        "kubernetes://web-cacert",
        "kubernetes://bank/web",
    ];
    let mut shop = Sidecar::connect(control_plane.xds_address(), node(SHOP_GATEWAY, "shop")).await;
    // Clusters first, as Envoy asks: a Secret change does not send them again.
    let clusters = shop.subscribe(ResourceType::Cluster, &[]).await;
    assert_eq!(resources(&clusters).len(), 0);
    let first = shop.subscribe(SDS, &names).await;
    // bank's `web` is not shop's to read: left out, and reported.
    assert_eq!(
        secrets_of(&first),
        [
            format!("kubernetes://web: certificate {SHOP_CERT}"),
            format!("kubernetes://web-cacert: ca {CA}"),
        ]
    );
    let mut bank = Sidecar::connect(control_plane.xds_address(), node(BANK_GATEWAY, "bank")).await;
    let bank_first = bank.subscribe(SDS, &["kubernetes://web"]).await;
    assert_eq!(
        secrets_of(&bank_first),
        [format!("kubernetes://web: certificate {BANK_CERT}")]
    );
    let status = get_json(monitoring, "/debug/config_status").await;
    assert_eq!(
        status["unresolved_secrets"],
        json!([{
            "proxy": SHOP_GATEWAY,
            "name": "kubernetes://bank/web",
            "reason": "a proxy reads only the Secrets of its own namespace \"shop\", not of \"bank\"",
        }])
    );
    assert_eq!(status["malformed_secrets"], json!([]));

    // shop's CA changes: shop's gateway is sent it, bank's nothing (its next message is the
    // push of its own change below).
    save(
        dir.path(),
        "shop.yaml",
        &tls_secret("shop", "web", SHOP_CERT, Some(NEW_CA)),
    );
    let pushed = shop.next().await;
    assert_eq!(pushed.type_url, SDS.type_url());
    // Secrets are named, as routes and load assignments are: only what changed is sent.
    assert_eq!(
        secrets_of(&pushed),
        [format!("kubernetes://web-cacert: ca {NEW_CA}")]
    );
    shop.send(SDS, &names, Some(&pushed)).await;
    save(
        dir.path(),
        "bank.yaml",
        &tls_secret("bank", "web", SHOP_CERT, None),
    );
    let bank_pushed = bank.next().await;
    assert_eq!(
        secrets_of(&bank_pushed),
        [format!("kubernetes://web: certificate {SHOP_CERT}")]
    );

    // The dump shows what shop's gateway is sent, its key redacted.
    let dump = get_json(
        monitoring,
        &format!("/debug/config_dump?proxyID={SHOP_GATEWAY}"),
    )
    .await;
    assert_eq!(
        dump["secrets"][0]["tls_certificate"]["private_key"],
        json!({"inline_string": "[redacted]"})
    );
    assert_eq!(dump["secrets"].as_array().unwrap().len(), 2);
    assert!(
        !dump.to_string().contains("c2VjcmV0"),
        "the key leaks: {dump}"
    );

    // A Secret deleted: the state of the world leaves it out.
    fs::remove_file(dir.path().join("shop.yaml")).unwrap();
    let emptied = shop.next().await;
    assert_eq!(secrets_of(&emptied), Vec::<String>::new());
    timeout(PATIENCE, control_plane.stop())
        .await
        .expect("the control plane stops in time")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_serves_subscribed_secrets_and_their_changes() {
    let dir = tempfile::tempdir().unwrap();
    let control_plane = start(dir.path()).await;
    let mut client = AggregatedDiscoveryServiceClient::connect(format!(
        "http://{}",
        control_plane.xds_address()
    ))
    .await
    .unwrap();
    let (requests, requests_rx) = mpsc::channel(8);
    let mut responses = client
        .delta_aggregated_resources(ReceiverStream::new(requests_rx))
        .await
        .unwrap()
        .into_inner();
    let request = |subscribe: &[&str], nonce: &str| DeltaDiscoveryRequest {
        node: Some(node(SHOP_GATEWAY, "shop")),
        type_url: SDS.type_url().into(),
        resource_names_subscribe: subscribe.iter().map(|n| n.to_string()).collect(),
        response_nonce: nonce.into(),
        ..DeltaDiscoveryRequest::default()
    };
    let mut next = async || -> DeltaDiscoveryResponse {
        timeout(PATIENCE, responses.message())
            .await
            .expect("no response in time")
            .unwrap()
            .expect("the stream ended")
    };
    let sent = |response: &DeltaDiscoveryResponse| {
        show(response.resources.iter().map(|r| {
            match Resource::decode_any(r.resource.as_ref().unwrap()).unwrap() {
                Resource::Secret(secret) => *secret,
                other => panic!("not a secret: {other:?}"),
            }
        }))
    };

    requests
        .send(request(&["kubernetes://web", "kubernetes://missing"], ""))
        .await
        .unwrap();
    let first = next().await;
    assert_eq!(
        sent(&first),
        [format!("kubernetes://web: certificate {SHOP_CERT}")]
    );
    requests.send(request(&[], &first.nonce)).await.unwrap();
    // One more name: only it is sent.
    requests
        .send(request(&["kubernetes://web-cacert"], ""))
        .await
        .unwrap();
    let added = next().await;
    assert_eq!(sent(&added), [format!("kubernetes://web-cacert: ca {CA}")]);
    requests.send(request(&[], &added.nonce)).await.unwrap();

    // The CA changes: only the CA is sent again.
    save(
        dir.path(),
        "shop.yaml",
        &tls_secret("shop", "web", SHOP_CERT, Some(NEW_CA)),
    );
    let pushed = next().await;
    assert_eq!(pushed.type_url, SDS.type_url());
    assert_eq!(
        sent(&pushed),
        [format!("kubernetes://web-cacert: ca {NEW_CA}")]
    );
    assert_eq!(pushed.removed_resources, Vec::<String>::new());
    requests.send(request(&[], &pushed.nonce)).await.unwrap();

    // The Secret goes: both names are removed.
    fs::remove_file(dir.path().join("shop.yaml")).unwrap();
    let removed = next().await;
    assert_eq!(sent(&removed), Vec::<String>::new());
    assert_eq!(
        removed.removed_resources,
        ["kubernetes://web", "kubernetes://web-cacert"]
    );

    let monitoring = control_plane.monitoring_address();
    let unresolved = eventually(|| async {
        let status = get_json(monitoring, "/debug/config_status").await;
        let unresolved = status["unresolved_secrets"].as_array()?.clone();
        (unresolved.len() == 3).then_some(unresolved)
    })
    .await
    .unwrap();
    assert_eq!(
        unresolved[0],
        json!({
            "proxy": SHOP_GATEWAY,
            "name": "kubernetes://missing",
            "reason": "there is no Secret shop/missing holding a credential",
        })
    );
    timeout(PATIENCE, control_plane.stop())
        .await
        .expect("the control plane stops in time")
        .unwrap();
}
