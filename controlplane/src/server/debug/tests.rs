use std::{collections::BTreeMap, path::Path};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use mesh_common::load::{LoadOptions, Loader, Origin};
use pretty_assertions::assert_eq;

use super::*;
use crate::{
    mesh_config::MeshConfig,
    model::Objects,
    store::{PerFileState, reconcile},
    translate::{Proxy, ProxyKind, Resources},
    xds::{ProxyStatus, TypeStatus},
};

#[test]
fn syncz_lists_each_proxy_by_type_url() {
    let status = StatusSnapshot {
        proxies: vec![ProxyStatus {
            node_id: "sidecar~a".to_string(),
            protocol: "delta",
            types: [(
                "Cluster",
                TypeStatus {
                    version_sent: Some("v2".to_string()),
                    nonce: Some("4".to_string()),
                    version_acked: Some("v1".to_string()),
                    last_nack: Some("bad cluster".to_string()),
                    last_push_unix_ms: Some(1_700_000_000_000),
                },
            )]
            .into(),
        }],
        pushes_total: BTreeMap::new(),
        nacks_total: BTreeMap::new(),
        reached_total: BTreeMap::new(),
    };
    assert_eq!(
        syncz(&status),
        json!([{
            "proxy": "sidecar~a",
            "protocol": "delta",
            "types": {
                "type.googleapis.com/envoy.config.cluster.v3.Cluster": {
                    "version_sent": "v2",
                    "nonce": "4",
                    "version_acked": "v1",
                    "last_nack": "bad cluster",
                    "last_push_unix_ms": 1_700_000_000_000u64,
                }
            }
        }])
    );
}

#[test]
fn config_dump_prints_resources_as_envoy_does() {
    let translated = Translated::new(
        9,
        Proxy {
            kind: ProxyKind::Sidecar,
            ips: vec!["10.0.0.1".to_string()],
            pod: "a".to_string(),
            namespace: "default".to_string(),
            labels: BTreeMap::new(),
            service_account: String::new(),
            workload_name: String::new(),
        },
        Resources {
            clusters: vec![Cluster {
                name: "outbound|80||a.default.svc.cluster.local".to_string(),
                ..Cluster::default()
            }],
            ..Resources::default()
        },
    );
    assert_eq!(
        config_dump("sidecar~a", &translated, &["server x left out".to_string()]).unwrap(),
        json!({
            "proxy": "sidecar~a",
            "snapshot_version": 9,
            "clusters": [{"name": "outbound|80||a.default.svc.cluster.local"}],
            "endpoints": [],
            "listeners": [],
            "routes": [],
            "warnings": ["server x left out"],
        })
    );
}

const CONFIG: &str = "\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: bad, namespace: default}
spec:
  host: ''
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  http:
  - name: api
    retries: {attempts: 2, retryRemoteLocalities: true}
    mirrorPercentage: {value: 50}
    route:
    - destination: {host: reviews}
";

const PLANNED: &str = "not implemented by mesh.rs yet (planned); it has no effect (with \
                       locality-aware load balancing)";

/// A file the store keeps out whole: none of it loaded before.
const BROKEN: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken, namespace: default}
spec:
  hosts: 7
";

#[test]
fn config_status_reports_file_errors_rejections_and_warnings() {
    let mut loader = Loader::new(LoadOptions::default());
    loader.add_str(CONFIG, Path::new("config/mesh.yaml"));
    loader.add_str(BROKEN, Path::new("config/broken.yaml"));
    loader.add_str(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: web}\ntype: kubernetes.io/tls\n\
         stringData: {tls.crt: x}\n",
        Path::new("config/secret.yaml"),
    );
    let loaded = loader.finish();
    let errors = loaded.errors.clone();
    let mut objects = Objects::default();
    for change in reconcile(&PerFileState::default(), loaded).changes {
        change.apply(&mut objects);
    }
    let snapshot = Snapshot::build(&objects, &MeshConfig::default());
    let status = config_status(&snapshot, &errors);
    assert_eq!(
        status,
        json!({
            "snapshot_version": 3,
            "file_errors": [{
                "file": "config/broken.yaml",
                "line": 1,
                "kind": "VirtualService",
                "namespace": "default",
                "name": "broken",
                "reason": "spec.hosts: invalid type: integer `7`, expected a sequence",
                "message": "config/broken.yaml:1: VirtualService default/broken: \
                            spec.hosts: invalid type: integer `7`, expected a sequence",
            }],
            "rejected": [{
                "resource": "DestinationRule default/bad",
                "findings": [{
                    "severity": "error",
                    "path": "spec.host",
                    "message": "host is empty: name the service this rule applies to, \
                                e.g. \"reviews\"",
                }],
            }],
            "warnings": [{
                "resource": "VirtualService default/reviews",
                "findings": [
                    {
                        "severity": "warning",
                        "path": "spec.http[0].retries.retryRemoteLocalities",
                        "message": PLANNED,
                    },
                    {
                        "severity": "warning",
                        "path": "spec.http[0].mirrorPercentage",
                        "message": "mirrorPercentage applies only to mirror, which is not set: \
                                    set mirror, or give each of mirrors a percentage",
                    },
                ],
            }],
            "malformed_secrets": [{
                "secret": "default/web",
                "reason": "it has tls.crt but not tls.key",
            }],
        })
    );
}

#[test]
fn origins_without_a_line_print_zero() {
    let error = LoadError {
        origin: Origin {
            file: "gone.yaml".into(),
            document: 0,
            line: 0,
            item: None,
        },
        kind: None,
        namespace: None,
        name: None,
        reason: "cannot read the file: permission denied".to_string(),
        first_defined: None,
    };
    let snapshot = Snapshot::build(&Objects::default(), &MeshConfig::default());
    assert_eq!(
        config_status(&snapshot, &[error])["file_errors"],
        json!([{
            "file": "gone.yaml",
            "line": 0,
            "kind": null,
            "namespace": null,
            "name": null,
            "reason": "cannot read the file: permission denied",
            "message": "gone.yaml: cannot read the file: permission denied",
        }])
    );
}
