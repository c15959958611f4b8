//! What the admin's tests against a running data plane share: a STATIC `backend` cluster, HTTP
//! listeners that route everything to it, the data plane on ephemeral loopback ports, and an
//! HTTP/1.1 client.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use envoy_types::pb::envoy::config::{cluster::v3::Cluster, listener::v3::Listener};
use http::Request;
use http_body_util::Empty;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use mesh_xds::json::from_yaml;
use tokio::net::TcpStream;

use crate::{
    config::{ConfigStore, DnsAnswers, Snapshot, apply_clusters, apply_listeners},
    http::HttpContext,
    serve::{DataPlane, ServeOptions},
};

/// How long any single wait in these tests may take before the test fails.
pub(super) const PATIENCE: Duration = Duration::from_secs(10);

/// An HTTP listener named `name` routing everything to `backend`, with `extra` fields (YAML
/// lines of the `Listener`).
pub(super) fn http_listener(name: &str, extra: &str) -> Listener {
    from_yaml(&format!(
        r#"
name: {name}
address: {{ socket_address: {{ address: 127.0.0.1, port_value: 9080 }} }}
filter_chains:
  - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: s
          route_config: {{ name: r, virtual_hosts: [ {{ name: v, domains: ["*"], routes: [ {{ match: {{ prefix: / }}, route: {{ cluster: backend }} }} ] }} ] }}
          http_filters: [ {{ name: envoy.filters.http.router }} ]
{extra}
"#
    ))
    .unwrap()
}

/// The STATIC cluster `backend` with `lb_endpoints` (YAML items) and `extra` fields (YAML
/// lines of the `Cluster`, each ending in a newline).
pub(super) fn backend_with(lb_endpoints: &[String], extra: &str) -> Cluster {
    from_yaml(&format!(
        "name: backend\ntype: STATIC\nconnect_timeout: 1s\n{extra}load_assignment: {{ \
         cluster_name: backend, endpoints: [ {{ lb_endpoints: [ {} ] }} ] }}",
        lb_endpoints.join(", ")
    ))
    .unwrap()
}

/// `backend` with one endpoint per upstream.
pub(super) fn backend(upstreams: &[SocketAddr], extra: &str) -> Cluster {
    let endpoints: Vec<String> = upstreams.iter().map(|a| lb_endpoint(*a, "")).collect();
    backend_with(&endpoints, extra)
}

/// One `lb_endpoints` item for `address`, with `extra` fields of the `LbEndpoint`.
pub(super) fn lb_endpoint(address: SocketAddr, extra: &str) -> String {
    format!(
        "{{ endpoint: {{ address: {{ socket_address: {{ address: '{}', port_value: {} }} }} }}{extra} }}",
        address.ip(),
        address.port()
    )
}

/// A snapshot holding `cluster` and `listeners`, compiled as xDS would deliver them.
pub(super) fn snapshot(cluster: Cluster, listeners: &[Listener]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    apply_clusters(&mut snapshot, &[cluster], &[], &DnsAnswers::default()).unwrap();
    apply_listeners(&mut snapshot, listeners, &[]).unwrap();
    snapshot
}

/// The data plane serving `store`, each of `listeners` on an ephemeral port, once ready.
pub(super) async fn start_plane(
    store: &Arc<ConfigStore>,
    http: Arc<HttpContext>,
    listeners: &[&str],
) -> DataPlane {
    let plane = DataPlane::start(
        Arc::clone(store),
        http,
        ServeOptions {
            port_overrides: listeners
                .iter()
                .map(|name| ((*name).to_owned(), 0))
                .collect(),
            ..ServeOptions::default()
        },
    );
    tokio::time::timeout(PATIENCE, plane.ready()).await.unwrap();
    plane
}

/// A new HTTP/1.1 client connection to `address`.
pub(super) async fn h1_client(address: SocketAddr) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(address).await.unwrap();
    let (client, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// `GET path` for host `shop`.
pub(super) fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::builder()
        .uri(path)
        .header("host", "shop")
        .body(Empty::new())
        .unwrap()
}
