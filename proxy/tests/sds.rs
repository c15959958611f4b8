//! SDS over ADS: clusters whose TLS names secrets over SDS, served by the real data plane, the
//! secrets sent by the fake control plane in both protocol variants, against a TLS upstream on
//! loopback with certificates made for the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod ads_support;
mod sds_support;
mod tls_support;

use std::{path::Path, sync::Arc};

use mesh_proxy::{
    access_log::AccessLog,
    bootstrap::Bootstrap,
    capture::OriginalDst,
    config::ConfigStore,
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
};
use mesh_xds::resource::ResourceType;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
};

use self::{
    ads_support::{Connected, any, delta, sotw},
    sds_support::{ADS, backend, ca, client_cert, delta_summary, summary, trusting_sds},
    tls_support::{CLIENT_ID, PATIENCE, Pki, SERVER_NAME, Seen, Serve},
};

/// The NACK of a CA secret that is no PEM.
const BAD_CA: &str = "Secret \"ca\": validation_context.trusted_ca.inline_string: inline_string: \
                      invalid PEM: section end \"-----END CERTIFICATE-----\" missing";

/// The NACK of a client certificate with another key.
const BAD_KEY: &str = "Secret \"client\": tls_certificate.private_key: does not match the \
                       certificate of certificate_chain";

/// An HTTP listener on loopback routing everything to cluster `backend`, which CDS brings.
const BOOTSTRAP: &str = r#"
node: {id: sds-test, cluster: sds-test}
static_resources:
  listeners:
  - name: http
    address: {socket_address: {address: 127.0.0.1, port_value: 1}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: http
          access_log: [{name: envoy.access_loggers.stdout, typed_config: {"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}}]
          http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
          route_config:
            name: http
            validate_clusters: false
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: backend}}]}]
"#;

/// The data plane serving [`BOOTSTRAP`], its store, and its access log lines.
struct Proxy {
    plane: DataPlane,
    store: Arc<ConfigStore>,
    log: mpsc::Receiver<String>,
}

impl Proxy {
    async fn start() -> Self {
        let bootstrap = Bootstrap::parse(BOOTSTRAP, Path::new("sds.yaml")).unwrap();
        let store = Arc::new(ConfigStore::new(bootstrap.static_snapshot));
        let (access_log, log) = AccessLog::channel(64);
        let http = Arc::new(HttpContext::with_access_log(Arc::clone(&store), access_log));
        let options = ServeOptions {
            original_dst: OriginalDst::Socket,
            bind_ip: Some("127.0.0.1".parse().unwrap()),
            port_overrides: [("http".to_owned(), 0)].into(),
        };
        let plane = DataPlane::start(Arc::clone(&store), http, options);
        tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
        Self { plane, store, log }
    }

    /// `GET /` on a new connection: the status, the body and the access log's flags.
    async fn get(&mut self) -> (u16, String, String) {
        let address = self.plane.bound()["http"];
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request = "GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n";
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(PATIENCE, stream.read_to_end(&mut out))
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let line = tokio::time::timeout(PATIENCE, self.log.recv())
            .await
            .unwrap()
            .unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
        let flags = entry["response_flags"].as_str().unwrap().to_owned();
        (status, body.to_owned(), flags)
    }
}

/// What a request through a cluster that is not usable yet gets.
fn warming() -> (u16, String, String) {
    (503, String::new(), "NC".to_owned())
}

/// What a request through the cluster gets when the handshake succeeds.
fn through() -> (u16, String, String) {
    (200, "tls:HTTP/1.1".to_owned(), "-".to_owned())
}

async fn seen(views: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(PATIENCE, views.recv())
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn sotw_cluster_warms_until_its_ca_arrives_and_follows_its_rotation() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &[], false).await;
    let mut proxy = Proxy::start().await;
    let Connected {
        control: _control,
        client,
        mut stream,
    } = Connected::sotw(Arc::clone(&proxy.store)).await;

    // The cluster arrives, is ACKed, and its secret is asked for by name; until it comes the
    // cluster is not usable.
    let cluster = backend(upstream, &trusting_sds());
    stream.send(sotw(ResourceType::Cluster, "c1", "n1", vec![any(cluster)]));
    assert_eq!(
        summary(&stream.next().await),
        ("Cluster", "c1", vec![], "n1", None)
    );
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "", vec!["ca"], "", None)
    );
    assert_eq!(proxy.get().await, warming());

    stream.send(sotw(
        ResourceType::Secret,
        "s1",
        "n2",
        vec![any(ca(&pki, "ca.pem"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "s1", vec!["ca"], "n2", None)
    );
    assert_eq!(proxy.get().await, through());
    assert_eq!(seen(&mut views).await.sni.as_deref(), Some(SERVER_NAME));

    // A CA that did not sign the upstream: new connections fail the handshake.
    stream.send(sotw(
        ResourceType::Secret,
        "s2",
        "n3",
        vec![any(ca(&pki, "other-ca.pem"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "s2", vec!["ca"], "n3", None)
    );
    let (status, _, flags) = proxy.get().await;
    assert_eq!((status, flags.as_str()), (503, "UF"));
    // And back to the right one.
    stream.send(sotw(
        ResourceType::Secret,
        "s3",
        "n4",
        vec![any(ca(&pki, "ca.pem"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "s3", vec!["ca"], "n4", None)
    );
    assert_eq!(proxy.get().await, through());

    // A CA that is no PEM is NACKed with the last good version; traffic keeps flowing.
    stream.send(sotw(
        ResourceType::Secret,
        "s4",
        "n5",
        vec![any(ca(&pki, "garbage.pem"))],
    ));
    assert_eq!(
        summary(&stream.next().await),
        ("Secret", "s3", vec!["ca"], "n5", Some(BAD_CA))
    );
    assert_eq!(proxy.get().await, through());
    let status = client.state().load();
    let secrets = &status.types[&ResourceType::Secret];
    assert_eq!((secrets.accepted, secrets.rejected), (3, 1));
    assert_eq!(secrets.resources["ca"].version, "s3");
}

#[tokio::test]
async fn delta_cluster_warms_until_both_secrets_arrive_and_unsubscribes_when_removed() {
    let pki = Pki::new();
    let (upstream, mut views) = pki.upstream(Serve::Http, &[], true).await;
    let mut proxy = Proxy::start().await;
    let Connected {
        control: _control,
        client,
        mut stream,
    } = Connected::delta(Arc::clone(&proxy.store)).await;

    let common = format!(
        "tls_certificate_sds_secret_configs: [{{name: client, {ADS}}}], {}",
        trusting_sds()
    );
    stream.send(delta(
        ResourceType::Cluster,
        "n1",
        vec![("backend", "1", any(backend(upstream, &common)))],
        &[],
    ));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Cluster", "n1", vec![], vec![], None)
    );
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "", vec!["ca", "client"], vec![], None)
    );
    assert_eq!(proxy.get().await, warming());

    // One of two: still warming.
    stream.send(delta(
        ResourceType::Secret,
        "n2",
        vec![("ca", "1", any(ca(&pki, "ca.pem")))],
        &[],
    ));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "n2", vec![], vec![], None)
    );
    assert_eq!(proxy.get().await, warming());
    stream.send(delta(
        ResourceType::Secret,
        "n3",
        vec![(
            "client",
            "1",
            any(client_cert(&pki, "client.pem", "client.key")),
        )],
        &[],
    ));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "n3", vec![], vec![], None)
    );
    assert_eq!(proxy.get().await, through());
    assert_eq!(
        seen(&mut views).await.client_ids,
        Some(vec![CLIENT_ID.to_owned()])
    );

    // A certificate with another key is NACKed; the last good one keeps serving.
    stream.send(delta(
        ResourceType::Secret,
        "n4",
        vec![(
            "client",
            "2",
            any(client_cert(&pki, "client.pem", "server.key")),
        )],
        &[],
    ));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "n4", vec![], vec![], Some(BAD_KEY))
    );
    assert_eq!(proxy.get().await, through());
    let status = client.state().load();
    assert_eq!(
        status.types[&ResourceType::Secret].resources["client"].version,
        "1"
    );

    // The control plane removes the CA: the cluster keeps the one it had.
    stream.send(delta(ResourceType::Secret, "n5", vec![], &["ca"]));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "n5", vec![], vec![], None)
    );
    assert_eq!(proxy.get().await, through());

    // The cluster goes, and its secrets are unsubscribed.
    stream.send(delta(ResourceType::Cluster, "n6", vec![], &["backend"]));
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Cluster", "n6", vec![], vec![], None)
    );
    assert_eq!(
        delta_summary(&stream.next().await),
        ("Secret", "", vec![], vec!["ca", "client"], None)
    );
    assert_eq!(proxy.get().await, warming());
    let status = client.state().load();
    let secrets = &status.types[&ResourceType::Secret];
    assert!(secrets.resources.is_empty());
    assert_eq!(
        status.subscribed.get(&ResourceType::Secret),
        Some(&Default::default())
    );
}
