//! Every golden case of the control plane's translation is accepted by mesh-proxy, applied in
//! the order ADS delivers it (clusters, endpoints, listeners, routes) — the same files a real
//! Envoy validates in the control plane's tests. What mesh.rs's control plane sends, its proxy
//! serves; a translation the proxy would NACK fails here with the NACK's text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use envoy_types::pb::envoy::config::{
    cluster::v3::Cluster, endpoint::v3::ClusterLoadAssignment, listener::v3::Listener,
    route::v3::RouteConfiguration,
};
use mesh_proxy::config::{
    DnsAnswers, Snapshot, apply_clusters, apply_endpoints, apply_listeners, apply_routes,
};
use mesh_xds::json::from_json;
use prost::{Message, Name};
use serde_json::Value;

mod tls_support;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../controlplane/tests/golden")
}

/// The resources of one golden file; none when the case has no such file. Certificate files
/// the golden names that do not exist here (a gateway's `/etc/istio/...` mounts) are replaced
/// by the test PKI's, since the proxy reads them when it applies the resource.
fn resources<M: Message + Default + Name>(
    case: &Path,
    file: &str,
    pki: &tls_support::Pki,
) -> Vec<M> {
    let path = case.join(file);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let mut values: Vec<Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    values
        .iter_mut()
        .for_each(|v| stand_in_missing_files(v, pki, false));
    values
        .iter()
        .map(|v| from_json(v).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

/// Points each `filename` that does not exist at the PKI's server key (inside a
/// `private_key`) or server certificate (anywhere else; a CA may be any certificate).
fn stand_in_missing_files(value: &mut Value, pki: &tls_support::Pki, in_key: bool) {
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                match field {
                    Value::String(file) if name == "filename" => {
                        if !Path::new(file.as_str()).exists() {
                            let stand_in = if in_key { "server.key" } else { "server.pem" };
                            *file = pki.path(stand_in).display().to_string();
                        }
                    }
                    _ => stand_in_missing_files(field, pki, in_key || name == "private_key"),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| stand_in_missing_files(item, pki, in_key)),
        _ => {}
    }
}

#[tokio::test]
async fn every_golden_case_is_accepted_by_mesh_proxy() {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(golden_dir())
        .expect("the control plane's golden cases")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "golden cases: {cases:?}");
    let pki = tls_support::Pki::new();
    let mut refused = Vec::new();
    for case in &cases {
        let clusters: Vec<Cluster> = resources(case, "clusters.json", &pki);
        let endpoints: Vec<ClusterLoadAssignment> = resources(case, "endpoints.json", &pki);
        let listeners: Vec<Listener> = resources(case, "listeners.json", &pki);
        let routes: Vec<RouteConfiguration> = resources(case, "routes.json", &pki);
        // Names are not resolved: a DNS cluster without answers still compiles.
        let dns = DnsAnswers::default();
        let mut snapshot = Snapshot::default();
        let result = apply_clusters(&mut snapshot, &clusters, &[], &dns)
            .and_then(|()| apply_endpoints(&mut snapshot, &endpoints, &[]))
            .and_then(|()| apply_listeners(&mut snapshot, &listeners, &[]))
            .and_then(|()| apply_routes(&mut snapshot, &routes, &[]));
        if let Err(error) = result {
            refused.push(format!("{}: {error}", case.display()));
        }
    }
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}
