//! `meshctl local`'s network, as root: namespaces joined by a bridge, reachable from each
//! other, resolving service names through their hosts files, and gone without a trace after
//! `down`, also when the process that brought them up died.
//!
//! The workloads are this test binary itself, re-run inside a namespace to serve or connect
//! (the `helper_*` tests, ignored unless asked for), so that nothing but `ip` and `iptables` has
//! to be installed. The tests skip loudly without root; CI runs them as root.

use std::{
    collections::BTreeMap,
    env, fs,
    io::{Read as _, Write as _},
    net::{Ipv4Addr, TcpListener, TcpStream},
    path::PathBuf,
    process::Command,
    time::Duration,
};

use mesh_testing::Patience;
use meshctl::local::{
    LocalError, LocalMesh, UpOptions, cli, down, is_root, net,
    plan::Network,
    spec::{ServicePortSpec, ServiceSpec, WorkloadSpec},
    state::{State, StateDir},
    up,
};
use pretty_assertions::assert_eq;

const HELPER: &str = "MESH_LOCAL_TEST_HELPER";

fn skip_without_root() -> bool {
    if is_root() {
        return false;
    }
    eprintln!(
        "SKIPPED: meshctl local's network tests need root (network namespaces, a bridge, \
         iptables); run them with sudo"
    );
    true
}

/// A command that re-runs this binary's `helper` test with `env`.
fn helper(name: &str, env: &[(&str, &str)]) -> (Vec<String>, BTreeMap<String, String>) {
    let exe = env::current_exe()
        .expect("the test binary has a path")
        .display()
        .to_string();
    let command = [&exe, name, "--exact", "--ignored", "--nocapture"].map(str::to_string);
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([(HELPER.to_string(), name.to_string())])
        .collect();
    (command.to_vec(), env)
}

fn workload(
    name: &str,
    app: &str,
    (command, env): (Vec<String>, BTreeMap<String, String>),
) -> WorkloadSpec {
    WorkloadSpec {
        name: name.to_string(),
        namespace: "default".to_string(),
        service_account: name.to_string(),
        labels: BTreeMap::from([("app".to_string(), app.to_string())]),
        command,
        ports: vec![9080],
        env,
    }
}

/// A server and a client; the server behind service `server`, the client in namespace `shop`
/// behind service `client`.
fn two_pods() -> LocalMesh {
    let service = |name: &str, namespace: &str| ServiceSpec {
        name: name.to_string(),
        namespace: namespace.to_string(),
        ports: vec![ServicePortSpec {
            name: "http".to_string(),
            port: 9080,
            target_port: None,
        }],
        selector: None,
    };
    let mut client = workload("client-v1", "client", helper("helper_idle", &[]));
    client.namespace = "shop".to_string();
    LocalMesh {
        services: vec![service("server", "default"), service("client", "shop")],
        workloads: vec![
            workload("server-v1", "server", helper("helper_serve", &[])),
            client,
        ],
        config: Vec::new(),
    }
}

fn options(dir: &tempfile::TempDir, third_octet: u8) -> UpOptions {
    UpOptions {
        mesh: false,
        pod_network: Network {
            base: Ipv4Addr::new(198, 18, third_octet, 0),
            prefix: 24,
        },
        ..UpOptions::new(dir.path())
    }
}

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .expect("the command runs");
    assert!(output.status.success(), "{program} {args:?}: {output:?}");
    String::from_utf8(output.stdout).expect("output is UTF-8")
}

/// Everything `state` names is gone from the machine.
fn assert_nothing_left(state: &State, dir: &StateDir) {
    let namespaces = run("ip", &["netns", "list"]);
    let links = run("ip", &["-o", "link", "show"]);
    let forward = run("iptables", &["-w", "-S", "FORWARD"]);
    for pod in &state.plan.workloads {
        assert!(!namespaces.contains(&pod.netns), "{namespaces}");
        assert!(!links.contains(&pod.host_veth), "{links}");
        assert!(!net::etc_dir(&pod.netns).exists());
    }
    assert!(!links.contains(&state.plan.bridge), "{links}");
    assert!(!forward.contains(&state.plan.bridge), "{forward}");
    assert!(!dir.state_file().exists());
    assert!(!dir.config_dir().exists());
}

async fn wait_for_log(path: PathBuf, text: &str) {
    Patience::new(Duration::from_secs(10))
        .eventually(|| {
            let path = path.clone();
            async move {
                fs::read_to_string(&path)
                    .ok()
                    .filter(|log| log.contains(text))
                    .map(drop)
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{} never said {text:?}: {e:?}", path.display()));
}

#[tokio::test]
async fn pods_reach_each_other_resolve_services_and_leave_nothing_behind() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut progress = Vec::new();
    let running = up(&two_pods(), &options(&dir, 250), &mut progress).unwrap();
    let state = running.state().clone();
    let state_dir = StateDir::new(dir.path());
    assert_eq!(
        String::from_utf8(progress).unwrap(),
        format!(
            "namespace mode — a network namespace per workload, traffic captured by its \
             sidecar\n\
             ✔ network: bridge {} at 198.18.250.1, 2 pods in 198.18.250.0/24\n\
             ✔ 2 workloads started\n",
            state.plan.bridge
        )
    );
    let ips: Vec<Ipv4Addr> = state.plan.workloads.iter().map(|w| w.ip).collect();
    assert_eq!(
        ips,
        [
            Ipv4Addr::new(198, 18, 250, 2),
            Ipv4Addr::new(198, 18, 250, 3)
        ]
    );
    assert_eq!(state_dir.load().unwrap().as_ref(), Some(&state));
    wait_for_log(
        state_dir.log("server-v1", false),
        "listening on 0.0.0.0:9080",
    )
    .await;

    // The client's namespace reaches the server's address over the bridge.
    let client = state.plan.workload("client-v1").unwrap();
    let (command, env) = helper("helper_connect", &[("CONNECT_TO", "198.18.250.2:9080")]);
    let output = Command::new("ip")
        .args(["netns", "exec", &client.netns])
        .args(&command)
        .envs(&env)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("received: hello from server-v1\n"),
        "{stdout}"
    );

    // Names resolve as Kubernetes DNS would answer them: short names in the pod's own
    // namespace only.
    let getent = |netns: &str, name: &str| {
        let output = Command::new("ip")
            .args(["netns", "exec", netns, "getent", "hosts", name])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let server = state.plan.workload("server-v1").unwrap();
    assert_eq!(
        getent(&server.netns, "server"),
        "198.19.0.1      server server.default server.default.svc server.default.svc.cluster.local\n"
    );
    assert_eq!(
        getent(&client.netns, "server.default.svc.cluster.local"),
        "198.19.0.1      server.default server.default.svc server.default.svc.cluster.local\n"
    );
    assert_eq!(getent(&client.netns, "server"), "");
    assert_eq!(
        getent(&server.netns, "client.shop"),
        "198.19.0.2      client.shop client.shop.svc client.shop.svc.cluster.local\n"
    );

    // `exec` runs in the pod and passes the exit code on.
    let code = cli::exec(
        &state,
        "client-v1",
        &[
            "sh",
            "-c",
            "ip -o -4 addr show dev eth0 | grep -q 198.18.250.3/24 && exit 3",
        ]
        .map(str::to_string),
    )
    .unwrap();
    assert_eq!(code, 3);
    let unknown = cli::exec(&state, "nobody", &["true".to_string()]).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "no workload nobody in this mesh (there are: server-v1, client-v1)"
    );

    running.down().unwrap();
    assert_nothing_left(&state, &state_dir);
    // A second `down` finds nothing to do.
    assert!(!down(&state_dir).unwrap());
}

#[test]
fn down_cleans_up_after_the_process_that_started_the_mesh_is_gone() {
    if skip_without_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let running = up(&two_pods(), &options(&dir, 251), &mut Vec::new()).unwrap();
    let state = running.state().clone();
    // As if meshctl crashed: the state stays, the processes and namespaces run on.
    running.detach();
    let state_dir = StateDir::new(dir.path());
    let again = up(&two_pods(), &options(&dir, 251), &mut Vec::new()).unwrap_err();
    assert!(matches!(again, LocalError::AlreadyUp { ref id, .. } if *id == state.plan.id));
    assert_eq!(
        again.to_string(),
        format!(
            "{} already holds local mesh {}: run `meshctl local down` first",
            dir.path().display(),
            state.plan.id
        )
    );
    let pids: Vec<u32> = state.processes.iter().map(|p| p.pid).collect();
    assert_eq!(pids.len(), 2);

    assert!(down(&state_dir).unwrap());
    assert_nothing_left(&state, &state_dir);
    for pid in pids {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Gone, or a zombie waiting for this test process to reap it.
        assert!(
            stat.is_empty() || stat.contains(") Z "),
            "{pid} still runs: {stat}"
        );
    }
    assert!(!down(&state_dir).unwrap());
}

#[test]
fn the_forward_rule_comes_and_goes() {
    if skip_without_root() {
        return;
    }
    let bridge = "meshbrtestfw";
    let rules = || run("iptables", &["-w", "-S", "FORWARD"]);
    net::add_forward_rule(bridge).unwrap();
    assert!(
        rules().contains(&format!("-A FORWARD -i {bridge} -o {bridge} -j ACCEPT")),
        "{}",
        rules()
    );
    assert!(net::remove_forward_rule(bridge).unwrap());
    assert!(!rules().contains(bridge), "{}", rules());
    assert!(!net::remove_forward_rule(bridge).unwrap());
}

// === helpers run inside the namespaces ===

/// Serves `hello from $POD_NAME` to a few connections.
#[test]
#[ignore = "run inside a network namespace by the tests above"]
fn helper_serve() {
    if env::var(HELPER).as_deref() != Ok("helper_serve") {
        return;
    }
    let listener = TcpListener::bind("0.0.0.0:9080").unwrap();
    println!("listening on {}", listener.local_addr().unwrap());
    let name = env::var("POD_NAME").unwrap();
    for stream in listener.incoming().take(16) {
        let mut stream = stream.unwrap();
        writeln!(stream, "hello from {name}").unwrap();
    }
}

/// Does nothing for a while, as a workload that only needs to exist.
#[test]
#[ignore = "run inside a network namespace by the tests above"]
fn helper_idle() {
    if env::var(HELPER).as_deref() != Ok("helper_idle") {
        return;
    }
    // Stopped by `down` long before this ends; bounded so that nothing outlives a broken test
    // for long.
    std::thread::sleep(Duration::from_secs(120));
}

/// Connects to `$CONNECT_TO` and prints what it hears.
#[test]
#[ignore = "run inside a network namespace by the tests above"]
fn helper_connect() {
    if env::var(HELPER).as_deref() != Ok("helper_connect") {
        return;
    }
    let address = env::var("CONNECT_TO").unwrap();
    let mut stream = TcpStream::connect(&address).unwrap();
    let mut received = String::new();
    stream.read_to_string(&mut received).unwrap();
    print!("received: {received}");
}
