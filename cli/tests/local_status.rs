//! `meshctl local status`: the sync state read from the control plane's `/debug/syncz`, and the
//! table.

use std::net::Ipv4Addr;

use meshctl::local::{
    LocalMesh,
    plan::{DEFAULT_POD_NETWORK, Plan},
    spec::{LocalMeshFile, parse},
    state::State,
    status::{fetch_syncz, status, sync_state, table},
};
use pretty_assertions::assert_eq;
use serde_json::json;

const NODE: &str = "sidecar~198.18.0.2~details-v1.default~default.svc.cluster.local";

fn progress(sent: &str, acked: Option<&str>, nack: Option<&str>) -> serde_json::Value {
    json!({"nonce": "1", "version_sent": sent, "version_acked": acked, "last_nack": nack,
           "last_push_unix_ms": 1})
}

fn syncz(cluster: serde_json::Value, listener: serde_json::Value) -> serde_json::Value {
    json!([{
        "protocol": "delta",
        "proxy": NODE,
        "types": {
            "type.googleapis.com/envoy.config.cluster.v3.Cluster": cluster,
            "type.googleapis.com/envoy.config.listener.v3.Listener": listener,
        }
    }])
}

#[test]
fn a_proxy_is_synced_when_it_acked_every_version_sent() {
    let acked = progress("a", Some("a"), None);
    assert_eq!(
        sync_state(&syncz(acked.clone(), acked.clone()), NODE),
        "SYNCED"
    );
    assert_eq!(
        sync_state(&syncz(progress("b", Some("a"), None), acked.clone()), NODE),
        "STALE Cluster"
    );
    assert_eq!(
        sync_state(
            &syncz(acked, progress("b", Some("a"), Some("no such cluster: x"))),
            NODE
        ),
        "NACK Listener: no such cluster: x"
    );
    assert_eq!(sync_state(&json!([]), NODE), "NOT CONNECTED");
    assert_eq!(
        sync_state(&json!({"proxies": [{"node_id": NODE, "types": {}}]}), NODE),
        "SYNCED"
    );
}

fn state() -> State {
    let text = "apiVersion: local.mesh.rs/v1\nkind: LocalMesh\n\
                workloads: [{name: details-v1, command: [x]}]\n";
    let file: LocalMeshFile = parse(text, "m.yaml".as_ref()).expect("the file parses");
    let mesh = LocalMesh::merge(vec![("m.yaml".into(), file)]).expect("one file merges");
    State {
        plan: Plan::new(&mesh, "t", DEFAULT_POD_NETWORK).expect("the plan fits"),
        mesh: true,
        forward_rule: None,
        processes: Vec::new(),
        monitoring: Some("http://127.0.0.1:15014".to_string()),
        gateway: None,
    }
}

#[test]
fn the_table_says_what_runs_and_why_the_sync_state_is_unknown() {
    let state = state();
    assert_eq!(state.plan.workloads[0].ip, Ipv4Addr::new(198, 18, 0, 2));
    let unknown = status(
        &state,
        Err("control plane at 127.0.0.1:1: refused".to_string()),
    );
    assert_eq!(
        table(&unknown),
        "WORKLOAD    NAMESPACE  IP          APP  PROXY  SYNC  LOG\n\
         details-v1  default    198.18.0.2  -    -      -\n\
         control plane:   http://127.0.0.1:15014/debug/syncz\n\
         sync state unknown: control plane at 127.0.0.1:1: refused\n"
    );
}

#[test]
fn an_absent_control_plane_is_reported_not_fatal() {
    // Port 1 on localhost: nothing listens there without root's say-so.
    let error = fetch_syncz("127.0.0.1:1").unwrap_err();
    assert!(
        error.starts_with("control plane at 127.0.0.1:1: "),
        "{error}"
    );
    assert_eq!(
        fetch_syncz("localhost").unwrap_err(),
        "control plane address localhost: invalid socket address syntax"
    );
}

#[test]
fn syncz_is_read_over_plain_http() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        use std::io::{BufRead as _, BufReader, Write as _};
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut stream = reader.into_inner();
        stream
            .write_all(
                b"HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n[{\"proxy\": \"x\"}]",
            )
            .unwrap();
        request_line
    });
    assert_eq!(fetch_syncz(&address).unwrap(), json!([{"proxy": "x"}]));
    assert_eq!(server.join().unwrap(), "GET /debug/syncz HTTP/1.0\r\n");
}
