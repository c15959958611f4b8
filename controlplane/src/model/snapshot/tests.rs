//! `Snapshot::next` against `Snapshot::build`: random changes to Services, slices, pods and
//! ServiceEntries, and after each the incremental snapshot equals the full one and shares
//! every service that did not change.

use std::sync::Arc;

use k8s_openapi::api::{
    core::v1::{Pod, Service as KubeService},
    discovery::v1::EndpointSlice,
};
use mesh_common::api::{Kind, ResourceKey, decode};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::model::ObjectKey;

/// A small deterministic generator (xorshift), so that a failure replays.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn kube<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("the test's object: {e}"))
}

/// One random change among four services, their slices (two per service, which may move
/// between services), eight pods and a ServiceEntry selecting pods; true when it changed
/// anything.
fn change(objects: &mut Objects, random: &mut Random) -> bool {
    let n = random.below(4);
    let name = format!("s{n}");
    match random.below(8) {
        0 => objects.upsert(kube::<KubeService>(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "spec": {"ports": [{"name": "http", "port": 80 + random.below(2)}]},
        }))),
        1 => objects.delete::<KubeService>(&ObjectKey::new("ns", name)),
        2 | 3 => {
            let slice = format!("slice-{}", random.below(8));
            let pods: Vec<Value> = (0..random.below(3))
                .map(|_| {
                    let p = random.below(8);
                    json!({"addresses": [format!("10.0.0.{p}")],
                           "targetRef": {"kind": "Pod", "name": format!("p{p}")}})
                })
                .collect();
            objects.upsert(kube::<EndpointSlice>(json!({
                "metadata": {"name": slice, "namespace": "ns",
                             "labels": {"kubernetes.io/service-name": name}},
                "addressType": "IPv4",
                "ports": [{"name": "http", "port": 8080}],
                "endpoints": pods,
            })))
        }
        4 => objects.delete::<EndpointSlice>(&ObjectKey::new("ns", format!("slice-{n}"))),
        5 | 6 => {
            let p = random.below(8);
            objects.upsert(kube::<Pod>(json!({
                "metadata": {"name": format!("p{p}"), "namespace": "ns",
                             "labels": {"app": "a", "version": format!("v{}", random.below(3))}},
                "spec": {"serviceAccountName": format!("sa{}", random.below(2))},
                "status": {"podIP": format!("10.0.0.{p}")},
            })))
        }
        _ if random.below(2) == 0 => objects.delete_resource(&ResourceKey {
            kind: Kind::ServiceEntry,
            namespace: "ns".to_string(),
            name: "entry".to_string(),
        }),
        _ => {
            let entry = json!({
                "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                "metadata": {"name": "entry", "namespace": "ns"},
                "spec": {"hosts": ["e.example.com"], "resolution": "STATIC",
                         "location": "MESH_INTERNAL",
                         "ports": [{"name": "http", "number": 80 + random.below(2), "protocol": "HTTP"}],
                         "workloadSelector": {"labels": {"version": "v1"}}},
            });
            let decoded = decode(&entry).unwrap_or_else(|e| panic!("the entry decodes: {e}"));
            objects.upsert_resource(decoded.resource)
        }
    }
}

type Changed = Vec<(String, Option<Service>, Option<Service>)>;

/// The diff's service changes, as `namespace/hostname` with both sides.
fn changed_services(diff: &crate::model::Diff) -> Changed {
    let show = |c: &crate::model::ServiceChange| {
        let any = c.after.as_ref().or(c.before.as_ref()).unwrap();
        let name = format!("{}/{}/{:?}", any.namespace, any.hostname, any.declared_by);
        (
            name,
            c.before.as_deref().cloned(),
            c.after.as_deref().cloned(),
        )
    };
    diff.services.iter().map(show).collect()
}

/// The service changes from a map of each snapshot's services by key (the last of a key wins).
fn by_key(before: &Snapshot, after: &Snapshot) -> Changed {
    use std::collections::BTreeMap;
    let index = |s: &Snapshot| -> BTreeMap<(String, String, String), Service> {
        let services = s.services().iter();
        let key = |s: &Service| {
            (
                s.namespace.clone(),
                s.hostname.clone(),
                format!("{:?}", s.declared_by),
            )
        };
        services.map(|s| (key(s), (**s).clone())).collect()
    };
    let (old, new) = (index(before), index(after));
    let keys: std::collections::BTreeSet<_> = old.keys().chain(new.keys()).cloned().collect();
    keys.into_iter()
        .filter(|k| old.get(k) != new.get(k))
        .map(|k| {
            (
                format!("{}/{}/{}", k.0, k.1, k.2),
                old.get(&k).cloned(),
                new.get(&k).cloned(),
            )
        })
        .collect()
}

#[test]
fn next_equals_a_full_build_and_shares_what_did_not_change() {
    let mesh = MeshConfig::default();
    for seed in [1_u64, 0xdead_beef, 2_718_281_828] {
        let mut random = Random(seed);
        let mut objects = Objects::default();
        let mut last = Snapshot::build(&objects, &mesh);
        for round in 0..300 {
            for _ in 0..=random.below(2) {
                change(&mut objects, &mut random);
            }
            let next = last.next(&mut objects);
            let full = Snapshot::build(&objects, &mesh);
            assert_eq!(next, full, "seed {seed}, round {round}");
            // The diff walks the services side by side; a map of them by key says the same.
            let diff = crate::model::Diff::between(&last, &next);
            assert_eq!(
                changed_services(&diff),
                by_key(&last, &next),
                "seed {seed}, round {round}"
            );
            // A service equal to one of the last snapshot is that one.
            for service in next.services() {
                let old = last.services().iter().find(|s| ***s == **service);
                if let Some(old) = old {
                    assert!(
                        Arc::ptr_eq(old, service),
                        "seed {seed}, round {round}: {service:?}"
                    );
                }
            }
            last = next;
        }
    }
}

#[test]
fn an_endpoint_change_rebuilds_one_service_and_shares_the_config() {
    let mesh = MeshConfig::default();
    let mut objects = Objects::default();
    let mut random = Random(7);
    while objects.all::<KubeService>().len() < 4 || objects.all::<EndpointSlice>().len() < 4 {
        change(&mut objects, &mut random);
    }
    let last = Snapshot::build(&objects, &mesh).next(&mut objects);
    let key = objects
        .all::<EndpointSlice>()
        .keys()
        .next()
        .cloned()
        .unwrap();
    let mut slice = objects.all::<EndpointSlice>()[&key].clone();
    let service = slice.metadata.labels.as_ref().unwrap()["kubernetes.io/service-name"].clone();
    slice
        .endpoints
        .get_or_insert_default()
        .push(kube(json!({"addresses": ["10.9.9.9"]})));
    assert!(objects.upsert(slice));
    let next = last.next(&mut objects);
    assert!(std::ptr::eq(last.config(), next.config()));
    let changed: Vec<&str> = next
        .services()
        .iter()
        .filter(|s| !last.services().iter().any(|old| Arc::ptr_eq(old, s)))
        .map(|s| s.declared_by.name())
        .collect();
    assert_eq!(changed, vec![service.as_str()]);
}
