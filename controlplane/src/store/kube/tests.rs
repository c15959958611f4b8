use std::collections::BTreeMap;

use ::kube::core::{DynamicObject, ObjectList};
use k8s_openapi::api::{
    core::v1::{Namespace, Pod, Service},
    discovery::v1::EndpointSlice,
};
use mesh_common::{
    api::Kind,
    load::{LoadError, LoadedKey, LoadedKind, LoadedObject, Origin},
};
use pretty_assertions::assert_eq;
use serde::de::DeserializeOwned;

use super::{ClusterState, Item, Update, api_resource, decode_istio, trim, trim_pod};
use crate::{mesh_config::MeshConfig, model::Snapshot};

const NAMESPACES: &str = include_str!("../../../tests/data/kube/namespaces.json");
const SERVICES: &str = include_str!("../../../tests/data/kube/services.json");
const SLICES: &str = include_str!("../../../tests/data/kube/endpointslices.json");
const PODS: &str = include_str!("../../../tests/data/kube/pods.json");
const VIRTUAL_SERVICES: &str = include_str!("../../../tests/data/kube/virtualservices.json");

const BAD_REASON: &str = "spec.http[0].route[0].weight: invalid type: string \"ten\", expected i32";

fn items<K: DeserializeOwned + Clone>(list: &str) -> Vec<K> {
    serde_json::from_str::<ObjectList<K>>(list).unwrap().items
}

fn virtual_services() -> Vec<Item> {
    let resource = api_resource(Kind::VirtualService);
    let objects = items::<DynamicObject>(VIRTUAL_SERVICES);
    objects
        .into_iter()
        .map(|o| decode_istio(Kind::VirtualService, &resource, o))
        .collect()
}

/// Every kind's relist, as the watches send it when they start.
fn relist(kind: LoadedKind, objects: Vec<Item>) -> Vec<Update> {
    let mut updates = vec![Update::Relist(kind)];
    updates.extend(objects.into_iter().map(Update::Listed));
    updates.push(Update::RelistDone(kind));
    updates
}

fn bookinfo() -> Vec<Update> {
    let wrap = |o| Item::of(o);
    [
        relist(
            LoadedKind::Namespace,
            items::<Namespace>(NAMESPACES)
                .into_iter()
                .map(|o| wrap(LoadedObject::Namespace(o)))
                .collect(),
        ),
        relist(
            LoadedKind::Service,
            items::<Service>(SERVICES)
                .into_iter()
                .map(|o| wrap(LoadedObject::Service(o)))
                .collect(),
        ),
        relist(
            LoadedKind::EndpointSlice,
            items::<EndpointSlice>(SLICES)
                .into_iter()
                .map(|o| wrap(LoadedObject::EndpointSlice(o)))
                .collect(),
        ),
        relist(
            LoadedKind::Pod,
            items::<Pod>(PODS)
                .into_iter()
                .map(|mut pod| {
                    trim_pod(&mut pod);
                    wrap(LoadedObject::Pod(pod))
                })
                .collect(),
        ),
        relist(LoadedKind::Istio(Kind::VirtualService), virtual_services()),
    ]
    .concat()
}

fn state() -> ClusterState {
    let mut state = ClusterState::default();
    for update in bookinfo() {
        state.apply(update);
    }
    state
}

fn snapshot(state: &ClusterState) -> Snapshot {
    Snapshot::build(state.objects(), &MeshConfig::default())
}

/// Each service's hostname with its endpoints' addresses and `version` labels.
fn endpoints(snapshot: &Snapshot) -> Vec<(String, Vec<(String, String)>)> {
    let services = snapshot.services().iter();
    services
        .map(|s| {
            let endpoints = s.endpoints.iter().map(|e| {
                let version = e.labels.get("version").cloned().unwrap_or_default();
                (e.address.clone(), version)
            });
            (s.hostname.clone(), endpoints.collect())
        })
        .collect()
}

fn vs_key(name: &str) -> LoadedKey {
    LoadedKey {
        kind: LoadedKind::Istio(Kind::VirtualService),
        namespace: "bookinfo".into(),
        name: name.into(),
    }
}

fn bad_vs_error(reason: &str) -> LoadError {
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
        reason: reason.into(),
        first_defined: None,
    }
}

fn pair(address: &str, version: &str) -> (String, String) {
    (address.to_string(), version.to_string())
}

#[test]
fn listed_bookinfo_builds_services_with_endpoints() {
    let snapshot = snapshot(&state());
    assert_eq!(
        endpoints(&snapshot),
        vec![
            (
                "productpage.bookinfo.svc.cluster.local".to_string(),
                vec![pair("10.244.1.10", "v1")]
            ),
            (
                "reviews.bookinfo.svc.cluster.local".to_string(),
                vec![pair("10.244.1.20", "v1"), pair("10.244.2.21", "v2")]
            ),
        ]
    );
    let reviews = snapshot
        .service("reviews.bookinfo.svc.cluster.local", "bookinfo")
        .unwrap();
    let identities: Vec<String> = reviews
        .endpoints
        .iter()
        .map(|e| e.identity.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(
        identities,
        vec![
            "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews",
            "spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews",
        ]
    );
    assert_eq!(reviews.addresses, vec!["10.96.0.20"]);
}

#[test]
fn malformed_virtual_service_is_reported_and_skipped() {
    let state = state();
    assert_eq!(state.errors(), vec![bad_vs_error(BAD_REASON)]);
    assert_eq!(
        state.errors()[0].to_string(),
        format!(
            "/apis/networking.istio.io/v1/namespaces/bookinfo/virtualservices/ratings-canary: \
             VirtualService bookinfo/ratings-canary: {BAD_REASON}"
        )
    );
    let snapshot = snapshot(&state);
    let accepted: Vec<String> = snapshot
        .config()
        .of_kind(Kind::VirtualService)
        .iter()
        .map(|c| c.resource.key().to_string())
        .collect();
    assert_eq!(accepted, vec!["VirtualService bookinfo/reviews"]);
    assert!(snapshot.config().rejected().is_empty());
}

#[test]
fn managed_fields_and_last_applied_copies_are_dropped() {
    let mut service = items::<Service>(SERVICES).remove(0);
    assert!(service.metadata.managed_fields.is_some());
    trim(&mut service.metadata);
    assert_eq!(service.metadata.managed_fields, None);
    assert_eq!(service.metadata.annotations, Some(BTreeMap::new()));
    // Istio resources are trimmed as they are decoded.
    let state = state();
    let resource = state.objects().resources().values().next().unwrap();
    assert_eq!(resource.name(), "reviews");
    assert_eq!(resource.metadata().managed_fields, None);
}

#[test]
fn trimmed_pods_keep_labels_identity_node_and_addresses() {
    let mut pod = items::<Pod>(PODS).remove(1);
    trim_pod(&mut pod);
    let expected: serde_json::Value = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "reviews-v1-5c4f6b7d9-fghij",
            "namespace": "bookinfo",
            "uid": "0b5e7a6c-4440-4c1e-9a51-0000000fghij",
            "resourceVersion": "41",
            "labels": {"app": "reviews", "version": "v1", "pod-template-hash": "5c4f6b7d9"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-20T10:00:00Z"}
        },
        "spec": {
            "containers": [],
            "nodeName": "node-a",
            "serviceAccountName": "bookinfo-reviews"
        },
        "status": {
            "hostIP": "192.168.0.1",
            "phase": "Running",
            "podIP": "10.244.1.20",
            "podIPs": [{"ip": "10.244.1.20"}]
        }
    });
    assert_eq!(serde_json::to_value(&pod).unwrap(), expected);
}

#[test]
fn watch_events_change_the_model() {
    let mut state = state();
    let before = snapshot(&state).version();

    // MODIFIED: reviews-v2 is relabelled v3.
    let mut pod = items::<Pod>(PODS).remove(2);
    pod.metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("version".into(), "v3".into());
    assert!(state.apply(Update::Apply(Item::of(LoadedObject::Pod(pod)))));
    // DELETED: productpage's slice.
    let slice = items::<EndpointSlice>(SLICES).remove(0);
    let key = Item::of(LoadedObject::EndpointSlice(slice)).key;
    assert!(state.apply(Update::Delete(key)));
    // ADDED: a second VirtualService.
    let mut added = items::<DynamicObject>(VIRTUAL_SERVICES).remove(0);
    added.metadata.name = Some("reviews-copy".into());
    let resource = api_resource(Kind::VirtualService);
    let item = decode_istio(Kind::VirtualService, &resource, added);
    assert!(state.apply(Update::Apply(item)));

    let snapshot = snapshot(&state);
    assert!(snapshot.version() > before);
    assert_eq!(
        endpoints(&snapshot),
        vec![
            ("productpage.bookinfo.svc.cluster.local".to_string(), vec![]),
            (
                "reviews.bookinfo.svc.cluster.local".to_string(),
                vec![pair("10.244.1.20", "v1"), pair("10.244.2.21", "v3")]
            ),
        ]
    );
    let accepted: Vec<String> = snapshot
        .config()
        .of_kind(Kind::VirtualService)
        .iter()
        .map(|c| c.resource.name().to_string())
        .collect();
    assert_eq!(accepted, vec!["reviews", "reviews-copy"]);
}

#[test]
fn an_event_that_changes_nothing_is_not_a_change() {
    let mut state = state();
    let service = items::<Service>(SERVICES).remove(1);
    assert!(!state.apply(Update::Apply(Item::of(LoadedObject::Service(service)))));
    assert!(!state.apply(Update::Delete(vs_key("never-existed"))));
}

#[test]
fn a_malformed_update_keeps_the_last_good_version() {
    let mut state = state();
    let good = state.objects().clone();
    // reviews is edited to the malformed spec of ratings-canary.
    let mut objects = items::<DynamicObject>(VIRTUAL_SERVICES);
    let mut bad = objects.remove(1);
    bad.metadata.name = Some("reviews".into());
    let resource = api_resource(Kind::VirtualService);
    let item = decode_istio(Kind::VirtualService, &resource, bad);
    assert!(!state.apply(Update::Apply(item)));
    assert_eq!(state.objects(), &good);
    let errors: Vec<(Option<String>, String)> = state
        .errors()
        .into_iter()
        .map(|e| (e.name, e.reason))
        .collect();
    assert_eq!(
        errors,
        vec![
            (Some("ratings-canary".into()), BAD_REASON.to_string()),
            (
                Some("reviews".into()),
                format!("{BAD_REASON}; its last good version stays applied")
            ),
        ]
    );

    // Fixed: the error goes; deleted: the malformed one's error goes with it.
    let fixed = decode_istio(Kind::VirtualService, &resource, objects.remove(0));
    assert!(!state.apply(Update::Apply(fixed)));
    assert!(!state.apply(Update::Delete(vs_key("ratings-canary"))));
    assert_eq!(state.errors(), vec![]);
}

#[test]
fn a_relist_replaces_a_kind_when_it_is_complete() {
    let mut state = state();
    let kind = LoadedKind::Istio(Kind::VirtualService);
    assert!(!state.apply(Update::Relist(kind)));
    // Until the relist is done, what the kind had stays.
    assert_eq!(state.objects().resources().len(), 1);
    let mut listed = items::<DynamicObject>(VIRTUAL_SERVICES).remove(0);
    listed.metadata.name = Some("details".into());
    let resource = api_resource(Kind::VirtualService);
    let item = decode_istio(Kind::VirtualService, &resource, listed);
    assert!(!state.apply(Update::Listed(item)));
    assert_eq!(state.objects().resources().len(), 1);

    assert!(state.apply(Update::RelistDone(kind)));
    let names: Vec<&str> = state
        .objects()
        .resources()
        .keys()
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(names, vec!["details"]);
    // The malformed resource was not listed again: it is gone, and so is its error.
    assert_eq!(state.errors(), vec![]);
    // The other kinds are untouched.
    assert_eq!(state.objects().all::<Pod>().len(), 3);
}

#[test]
fn the_first_snapshot_waits_for_every_kind() {
    let kinds = [LoadedKind::Service, LoadedKind::Istio(Kind::Gateway)];
    let mut state = ClusterState::default();
    assert!(!state.has_listed(&kinds));
    state.apply(Update::Relist(LoadedKind::Service));
    state.apply(Update::RelistDone(LoadedKind::Service));
    assert!(!state.has_listed(&kinds));
    // A kind the cluster does not serve counts as listed, with no objects.
    state.apply(Update::RelistDone(LoadedKind::Istio(Kind::Gateway)));
    assert!(state.has_listed(&kinds));
}

mod window;
