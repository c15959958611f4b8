//! The changed objects between two snapshots, for each kind of change.

use std::collections::BTreeSet;

use mesh_common::api::{Kind, ResourceKey};
use pretty_assertions::assert_eq;

use super::{build, objects};
use crate::{
    mesh_config::MeshConfig,
    model::{
        ChangedObject, Diff, Snapshot,
        test_support::{self, EDGE_GATEWAY, PRIVATE_VS as VS},
    },
};

/// Service web of `a`, with one pod.
fn web() -> String {
    test_support::service("web", "a", "198.19.0.10", &["198.18.0.10"])
}

const DR: &str = "
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: a}
spec:
  host: web
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
";

const VMS: &str = "
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vms, namespace: a}
spec:
  hosts: [vms.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector:
    labels: {app: vm}
";

const VM_1: &str = "
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: a}
spec:
  address: 198.18.5.1
  labels: {app: vm}
";

fn config(kind: Kind, name: &str) -> ChangedObject {
    ChangedObject::Config(ResourceKey {
        kind,
        namespace: "a".to_string(),
        name: name.to_string(),
    })
}

fn service(hostname: &str) -> ChangedObject {
    ChangedObject::Service {
        namespace: "a".to_string(),
        hostname: hostname.to_string(),
    }
}

fn endpoints(hostname: &str) -> ChangedObject {
    ChangedObject::Endpoints {
        namespace: "a".to_string(),
        hostname: hostname.to_string(),
    }
}

const WEB_HOST: &str = "web.a.svc.cluster.local";

fn changed(before: &str, after: &str) -> BTreeSet<ChangedObject> {
    Diff::between(&build(before), &build(after)).objects()
}

#[test]
fn each_istio_kind_added_changed_and_removed() {
    let base = format!("{}{VS}{EDGE_GATEWAY}", web());
    assert_eq!(
        changed(&base, &format!("{base}{DR}")),
        [config(Kind::DestinationRule, "web")].into()
    );
    assert_eq!(
        changed(&base, &base.replace("timeout: 3s", "timeout: 4s")),
        [config(Kind::VirtualService, "web")].into()
    );
    assert_eq!(
        changed(&base, &format!("{}{VS}", web())),
        [config(Kind::Gateway, "edge")].into()
    );
    assert_eq!(changed(&base, &base), BTreeSet::new());
}

#[test]
fn services_change_whole_or_in_their_endpoints_alone() {
    let web = web();
    // A port: the service.
    assert_eq!(
        changed(&web, &web.replace("port: 80,", "port: 81,")),
        [service(WEB_HOST)].into()
    );
    // Another address in the slice: its endpoints, and the address.
    let two = web.replace(
        "- addresses: [198.18.0.10]",
        "- addresses: [198.18.0.10, 198.18.0.11]",
    );
    let diff = Diff::between(&build(&web), &build(&two));
    assert_eq!(diff.objects(), [endpoints(WEB_HOST)].into());
    assert_eq!(diff.services.len(), 1);
    assert_eq!(
        diff.services[0].addresses,
        ["198.18.0.11".to_string()].into()
    );
    // A label of the pod behind an address: that endpoint.
    let relabelled = web.replace("labels: {app: web}", "labels: {app: web, version: v2}");
    let diff = Diff::between(&build(&web), &build(&relabelled));
    assert_eq!(diff.objects(), [endpoints(WEB_HOST)].into());
    assert_eq!(
        diff.services[0].addresses,
        ["198.18.0.10".to_string()].into()
    );
    // Added and removed.
    let empty = "
apiVersion: v1
kind: Namespace
metadata: {name: a}
";
    assert_eq!(changed(empty, &web), [service(WEB_HOST)].into());
    let diff = Diff::between(&build(&web), &build(empty));
    assert_eq!(diff.objects(), [service(WEB_HOST)].into());
    assert!(diff.services[0].after.is_none());
    assert_eq!(
        diff.services[0].addresses,
        ["198.18.0.10".to_string()].into()
    );
}

#[test]
fn service_entries_and_workload_entries() {
    let base = format!("{}{VMS}", web());
    assert_eq!(
        changed(&web(), &base),
        [config(Kind::ServiceEntry, "vms"), service("vms.internal")].into()
    );
    // A WorkloadEntry the entry selects: itself, and the entry's endpoints.
    let diff = Diff::between(&build(&base), &build(&format!("{base}{VM_1}")));
    assert_eq!(
        diff.objects(),
        [
            config(Kind::WorkloadEntry, "vm-1"),
            endpoints("vms.internal")
        ]
        .into()
    );
    assert_eq!(
        diff.services[0].addresses,
        ["198.18.5.1".to_string()].into()
    );
}

#[test]
fn the_mesh_config() {
    let before = build(&web());
    let mesh = MeshConfig {
        root_namespace: "mesh-root".to_string(),
        ..MeshConfig::default()
    };
    let after = Snapshot::build(&objects(&web()), &mesh);
    assert_eq!(
        Diff::between(&before, &after).objects(),
        [ChangedObject::Mesh].into()
    );
    // A clone shares everything.
    let diff = Diff::between(&before, &before.clone());
    assert!(diff.is_empty());
}
