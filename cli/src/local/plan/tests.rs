use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use pretty_assertions::assert_eq;

use super::*;
use crate::local::spec::{LocalMesh, parse};

fn mesh(workloads: usize) -> LocalMesh {
    let mut text = String::from(
        "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\nservices:\n\
         - {name: a, ports: [{name: http, port: 80}]}\n\
         - {name: b, namespace: shop, ports: [{name: http, port: 80}]}\nworkloads:\n",
    );
    for i in 0..workloads {
        text.push_str(&format!("- {{name: w{i}, command: [x]}}\n"));
    }
    let file = parse(&text, Path::new("m.yaml")).unwrap();
    LocalMesh::merge(vec![(PathBuf::from("m.yaml"), file)]).unwrap()
}

#[test]
fn addresses_are_handed_out_in_file_order() {
    let plan = Plan::new(&mesh(2), "a1b2c3", DEFAULT_POD_NETWORK).unwrap();
    assert_eq!(plan.bridge, "meshbra1b2c3");
    assert_eq!(plan.host_ip, Ipv4Addr::new(198, 18, 0, 1));
    let pods: Vec<(&str, Ipv4Addr, &str, &str, &str)> = plan
        .workloads
        .iter()
        .map(|w| {
            (
                w.name.as_str(),
                w.ip,
                w.netns.as_str(),
                w.host_veth.as_str(),
                w.pod_veth.as_str(),
            )
        })
        .collect();
    assert_eq!(
        pods,
        [
            (
                "w0",
                Ipv4Addr::new(198, 18, 0, 2),
                "mesh-a1b2c3-w0",
                "mha1b2c3-0",
                "mpa1b2c3-0"
            ),
            (
                "w1",
                Ipv4Addr::new(198, 18, 0, 3),
                "mesh-a1b2c3-w1",
                "mha1b2c3-1",
                "mpa1b2c3-1"
            ),
        ]
    );
    assert_eq!(plan.vip("default", "a"), Some(Ipv4Addr::new(198, 19, 0, 1)));
    assert_eq!(plan.vip("shop", "b"), Some(Ipv4Addr::new(198, 19, 0, 2)));
    assert_eq!(plan.vip("default", "b"), None);
}

#[test]
fn addresses_cross_octets_and_stop_before_the_broadcast() {
    let plan = Plan::new(&mesh(300), "x", DEFAULT_POD_NETWORK).unwrap();
    assert_eq!(plan.workloads[253].ip, Ipv4Addr::new(198, 18, 0, 255));
    assert_eq!(plan.workloads[254].ip, Ipv4Addr::new(198, 18, 1, 0));
    let small = Network {
        base: Ipv4Addr::new(198, 18, 7, 0),
        prefix: 29,
    };
    // 8 addresses: the network, the host, five pods and the broadcast.
    let plan = Plan::new(&mesh(5), "x", small).unwrap();
    assert_eq!(plan.workloads[4].ip, Ipv4Addr::new(198, 18, 7, 6));
    assert_eq!(
        Plan::new(&mesh(6), "x", small).unwrap_err(),
        PlanError::Full {
            network: "198.18.7.0/29".to_string(),
            room: 5,
            wanted: 6
        }
    );
    assert_eq!(
        Plan::new(&mesh(6), "x", small).unwrap_err().to_string(),
        "198.18.7.0/29 has room for 5 addresses, and 6 are needed"
    );
}

#[test]
fn link_names_fit_linux_limit() {
    let plan = Plan::new(&mesh(1000), "abcdefgh", DEFAULT_POD_NETWORK).unwrap();
    assert_eq!(plan.bridge.len(), MAX_LINK_NAME - 1);
    let longest = plan.workloads.last().unwrap();
    assert_eq!(longest.host_veth, "mhabcdefgh-3e7");
    assert!(longest.host_veth.len() <= MAX_LINK_NAME);
    assert!(longest.pod_veth.len() <= MAX_LINK_NAME);
}

#[test]
fn ids_must_be_short_and_plain() {
    for id in ["", "abcdefghi", "a-b", "ABC"] {
        assert_eq!(
            Plan::new(&mesh(1), id, DEFAULT_POD_NETWORK).unwrap_err(),
            PlanError::BadId(id.to_string())
        );
    }
    let id = random_id();
    assert_eq!(id.len(), 6);
    assert!(Plan::new(&mesh(1), &id, DEFAULT_POD_NETWORK).is_ok());
}

#[test]
fn explicit_mode_puts_workloads_on_loopback_without_namespaces() {
    let plan = Plan::explicit(&mesh(2), "a1b2c3", LOOPBACK_NETWORK).unwrap();
    assert_eq!(plan.mode, Mode::Explicit);
    assert_eq!(plan.bridge, "");
    assert_eq!(plan.host_ip, Ipv4Addr::LOCALHOST);
    let pods: Vec<(&str, Ipv4Addr, &str, &str, &str, SocketAddr)> = plan
        .workloads
        .iter()
        .map(|w| {
            (
                w.name.as_str(),
                w.ip,
                w.netns.as_str(),
                w.host_veth.as_str(),
                w.pod_veth.as_str(),
                plan.sidecar_admin(w),
            )
        })
        .collect();
    assert_eq!(
        pods,
        [
            (
                "w0",
                Ipv4Addr::new(127, 0, 1, 2),
                "",
                "",
                "",
                "127.0.1.2:15000".parse().unwrap()
            ),
            (
                "w1",
                Ipv4Addr::new(127, 0, 1, 3),
                "",
                "",
                "",
                "127.0.1.3:15000".parse().unwrap()
            ),
        ]
    );
    // The control plane's model still gives services their VIPs.
    assert_eq!(plan.vip("default", "a"), Some(Ipv4Addr::new(198, 19, 0, 1)));
    let namespaces = Plan::new(&mesh(1), "a1b2c3", DEFAULT_POD_NETWORK).unwrap();
    assert_eq!(namespaces.mode, Mode::Namespaces);
    assert_eq!(
        namespaces.sidecar_admin(&namespaces.workloads[0]),
        "127.0.0.1:15000".parse::<SocketAddr>().unwrap()
    );
}

#[test]
fn loopback_has_room_for_253_workloads() {
    let plan = Plan::explicit(&mesh(253), "x", LOOPBACK_NETWORK).unwrap();
    assert_eq!(plan.workloads[252].ip, Ipv4Addr::new(127, 0, 1, 254));
    assert_eq!(
        Plan::explicit(&mesh(254), "x", LOOPBACK_NETWORK)
            .unwrap_err()
            .to_string(),
        "127.0.1.0/24 has room for 253 addresses, and 254 are needed"
    );
}

#[test]
fn a_state_file_from_before_explicit_mode_reads_as_namespace_mode() {
    let plan = Plan::new(&mesh(1), "a1b2c3", DEFAULT_POD_NETWORK).unwrap();
    let mut json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["mode"], "namespaces");
    json.as_object_mut().unwrap().remove("mode");
    let read: Plan = serde_json::from_value(json).unwrap();
    assert_eq!(read, plan);
    let explicit = Plan::explicit(&mesh(1), "a1b2c3", LOOPBACK_NETWORK).unwrap();
    assert_eq!(serde_json::to_value(&explicit).unwrap()["mode"], "explicit");
}
