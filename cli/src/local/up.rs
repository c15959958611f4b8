//! `up`: the network, the control plane, a sidecar per workload, the workloads and the ingress
//! gateway, each step recorded in the state directory before it is taken.
//!
//! A step that fails tears down everything before it, so that a failed `up` leaves the machine
//! as it found it.

use std::{
    fs,
    io::Write,
    net::{SocketAddr, TcpStream},
    os::unix::{fs::PermissionsExt as _, process::CommandExt as _},
    path::{Path, PathBuf},
    process::{Child, Command},
    thread,
    time::{Duration, SystemTime},
};

use mesh_common::well_known::{PROXY_UID, control_plane_ports, proxy_ports};
use mesh_xds::bootstrap::{self, ProxyIdentity, ProxyKind};

use super::{
    LocalError, down, io, is_root, net,
    plan::{self, Network, Plan},
    process::{self, find_binary},
    render,
    spec::LocalMesh,
    state::{ProcessRecord, Role, State, StateDir, write_atomically},
};

/// Where the ingress gateway listens.
pub const GATEWAY_ADDRESS: &str = "127.0.0.1:8080";
/// The ingress gateway's admin API: beside the sidecars' 15000, which the root namespace may
/// already use for something else.
pub const GATEWAY_ADMIN: &str = "127.0.0.1:15100";
/// The ingress gateway's `/healthz/ready`, off the sidecars' 15021 for the same reason.
pub const GATEWAY_HEALTH: &str = "127.0.0.1:15121";
/// The ingress gateway's `/stats/prometheus`, off the sidecars' 15090 for the same reason.
pub const GATEWAY_METRICS: &str = "127.0.0.1:15190";
/// The control plane's monitoring and debug endpoints.
pub const MONITORING_ADDRESS: &str = "127.0.0.1:15014";
/// The namespace and name of the ingress gateway's "pod".
const GATEWAY_NAMESPACE: &str = "mesh-system";
const GATEWAY_NAME: &str = "ingressgateway";
/// How long the control plane gets to start listening.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How to bring a mesh up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpOptions {
    pub state_dir: PathBuf,
    /// Where the workspace's binaries are; by default next to meshctl, then `PATH`.
    pub bin_dir: Option<PathBuf>,
    /// False to set up only the network and the workloads: no control plane, no proxies.
    pub mesh: bool,
    /// The pods' network.
    pub pod_network: Network,
    /// The instance id; a random one by default.
    pub id: Option<String>,
}

/// A mesh brought up by this process. Dropping it tears it down.
#[derive(Debug)]
pub struct Running {
    pub(super) dir: StateDir,
    pub(super) state: State,
    /// The processes this process started, in the order of `state.processes`.
    pub(super) children: Vec<Child>,
    /// The control plane's binary, to start it again after a stop.
    pub(super) control_plane: Option<PathBuf>,
    down: bool,
}

// === impl UpOptions ===

impl UpOptions {
    /// The whole mesh, in `state_dir`, on the default pod network.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Self {
            state_dir: state_dir.into(),
            bin_dir: None,
            mesh: true,
            pod_network: plan::DEFAULT_POD_NETWORK,
            id: None,
        }
    }
}

// === impl Running ===

impl Running {
    /// What runs, as recorded in the state directory.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// Stops every process and removes everything `up` created.
    pub fn down(mut self) -> Result<(), LocalError> {
        self.down = true;
        down::down_state(&self.dir, &self.state, &mut self.children)
    }

    /// Lets the mesh run on after this process exits: `meshctl local down` stops it.
    pub fn detach(mut self) {
        self.down = true;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.down {
            // Nothing to report to: the caller did not ask. A later `down` finishes the job.
            let _ = down::down_state(&self.dir, &self.state, &mut self.children);
        }
    }
}

/// Brings `mesh` up as `options` say, printing a line per step to `progress`.
pub fn up(
    mesh: &LocalMesh,
    options: &UpOptions,
    progress: &mut dyn Write,
) -> Result<Running, LocalError> {
    if !is_root() {
        return Err(LocalError::NotRoot);
    }
    let dir = StateDir::new(&options.state_dir);
    if let Some(existing) = dir.load()? {
        return Err(LocalError::AlreadyUp {
            state_dir: dir.root.clone(),
            id: existing.plan.id,
        });
    }
    let plan = make_plan(mesh, options)?;
    prepare_dirs(&dir)?;
    let state = State {
        plan,
        mesh: options.mesh,
        forward_rule: None,
        processes: Vec::new(),
        monitoring: None,
        gateway: None,
    };
    dir.save(&state)?;
    let mut running = Running {
        dir,
        state,
        children: Vec::new(),
        control_plane: None,
        down: false,
    };
    // On error, dropping `running` tears down what was made.
    start(&mut running, mesh, options, progress)?;
    Ok(running)
}

fn make_plan(mesh: &LocalMesh, options: &UpOptions) -> Result<Plan, LocalError> {
    if let Some(id) = &options.id {
        return Ok(Plan::new(mesh, id, options.pod_network)?);
    }
    // A random id is retried while it names a bridge that exists, i.e. another instance's.
    let mut plan = Plan::new(mesh, &plan::random_id(), options.pod_network)?;
    for _ in 0..8 {
        if !net::link_exists(&plan.bridge) {
            break;
        }
        plan = Plan::new(mesh, &plan::random_id(), options.pod_network)?;
    }
    Ok(plan)
}

fn prepare_dirs(dir: &StateDir) -> Result<(), LocalError> {
    for path in [
        dir.local_config_dir(),
        dir.user_config_dir(),
        dir.proxies_dir(),
        dir.logs_dir(),
    ] {
        fs::create_dir_all(&path).map_err(io(format!("create {}", path.display())))?;
    }
    // The proxies run as their own user and read their bootstraps from here.
    for path in [dir.root.clone(), dir.proxies_dir()] {
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(io(format!("chmod {}", path.display())))?;
    }
    Ok(())
}

/// The proxies run as uid 1337, which may not reach the build's binary (a target directory
/// under root's home is not searchable by other users): they run a link to it, or a copy,
/// in the state directory that `prepare_dirs` opened to them.
fn proxy_binary_for_proxy_user(dir: &StateDir, proxy: &Path) -> Result<PathBuf, LocalError> {
    let placed = dir.proxies_dir().join("mesh-proxy");
    // A link left by an earlier run may point at an older build.
    let _ = fs::remove_file(&placed);
    if fs::hard_link(proxy, &placed).is_err() {
        fs::copy(proxy, &placed).map_err(io(format!(
            "copy {} to {}",
            proxy.display(),
            placed.display()
        )))?;
    }
    fs::set_permissions(&placed, fs::Permissions::from_mode(0o755))
        .map_err(io(format!("chmod {}", placed.display())))?;
    Ok(placed)
}

fn step(progress: &mut dyn Write, message: &str) {
    // Progress is a courtesy: a closed stdout must not stop the mesh.
    let _ = writeln!(progress, "✔ {message}");
}

fn start(
    running: &mut Running,
    mesh: &LocalMesh,
    options: &UpOptions,
    progress: &mut dyn Write,
) -> Result<(), LocalError> {
    let bin = |name: &str| find_binary(name, options.bin_dir.as_deref());
    // Every binary is found before anything is made, so that a missing one costs nothing.
    let binaries = if options.mesh {
        Some((bin("mesh-controlplane")?, bin("mesh-proxy")?))
    } else {
        None
    };
    let commands = mesh
        .workloads
        .iter()
        .map(|w| bin(&w.command[0]))
        .collect::<Result<Vec<_>, _>>()?;

    network(running, mesh, progress)?;
    let binaries = match binaries {
        Some((controlplane, proxy)) => Some((
            controlplane,
            proxy_binary_for_proxy_user(&running.dir, &proxy)?,
        )),
        None => None,
    };
    if let Some((controlplane, proxy)) = &binaries {
        config(running, mesh)?;
        running.control_plane = Some(controlplane.clone());
        start_control_plane(running, controlplane)?;
        step(
            progress,
            &format!(
                "control plane serving xDS on {}",
                xds_address(&running.state.plan)
            ),
        );
        for workload in &running.state.plan.workloads.clone() {
            start_sidecar(running, mesh, proxy, &workload.name)?;
        }
        step(
            progress,
            &format!("{} sidecars started", running.state.plan.workloads.len()),
        );
    }
    for (workload, program) in mesh.workloads.iter().zip(&commands) {
        let placed = running
            .state
            .plan
            .workload(&workload.name)
            .cloned()
            .ok_or_else(|| LocalError::Config(format!("{} has no plan", workload.name)))?;
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &placed.netns])
            .arg(program)
            .args(&workload.command[1..])
            .env("POD_NAME", &workload.name)
            .env("HOSTNAME", &workload.name)
            .env("POD_NAMESPACE", &workload.namespace)
            .env("SERVICE_ACCOUNT", &workload.service_account)
            .env("INSTANCE_IP", placed.ip.to_string())
            .envs(&workload.env);
        let log = running.dir.log(&workload.name, false);
        record(running, command, &workload.name, Role::Workload, &log, None)?;
    }
    step(
        progress,
        &format!("{} workloads started", mesh.workloads.len()),
    );
    if let Some((_, proxy)) = &binaries {
        start_gateway(running, proxy)?;
        step(
            progress,
            &format!("ingress gateway on http://{GATEWAY_ADDRESS}"),
        );
    }
    Ok(())
}

fn network(
    running: &mut Running,
    mesh: &LocalMesh,
    progress: &mut dyn Write,
) -> Result<(), LocalError> {
    let plan = running.state.plan.clone();
    net::create_bridge(&plan)?;
    if net::forward_policy_drops()? {
        running.state.forward_rule = Some(plan.bridge.clone());
        running.dir.save(&running.state)?;
        net::add_forward_rule(&plan.bridge)?;
    }
    for pod in &plan.workloads {
        net::create_pod(&plan, pod)?;
        net::write_hosts(&pod.netns, &render::hosts_file(mesh, &plan, pod))?;
    }
    step(
        progress,
        &format!(
            "network: bridge {} at {}, {} pods in {}",
            plan.bridge,
            plan.host_ip,
            plan.workloads.len(),
            plan.pod_network
        ),
    );
    Ok(())
}

fn config(running: &mut Running, mesh: &LocalMesh) -> Result<(), LocalError> {
    let dir = running.dir.local_config_dir();
    for file in render::kubernetes_objects(mesh, &running.state.plan)? {
        let temporary = dir.join(format!(".{}.tmp", file.path));
        write_atomically(&temporary, &dir.join(&file.path), &file.text)?;
    }
    for path in &mesh.config {
        super::cli::apply_config(&running.dir, path)?;
    }
    Ok(())
}

fn xds_address(plan: &Plan) -> SocketAddr {
    SocketAddr::from((plan.host_ip, control_plane_ports::XDS_PLAINTEXT))
}

pub(super) fn start_control_plane(running: &mut Running, binary: &Path) -> Result<(), LocalError> {
    let mut command = Command::new(binary);
    command
        .arg("run")
        .arg("--config-dir")
        .arg(running.dir.config_dir())
        .arg("--xds-address")
        .arg(xds_address(&running.state.plan).to_string())
        .arg("--monitoring-address")
        .arg(MONITORING_ADDRESS);
    let log = running.dir.log("controlplane", false);
    let index = record(
        running,
        command,
        "controlplane",
        Role::ControlPlane,
        &log,
        None,
    )?;
    running.state.monitoring = Some(format!("http://{MONITORING_ADDRESS}"));
    running.dir.save(&running.state)?;
    let xds = xds_address(&running.state.plan);
    wait_listening(running, xds, index, "the control plane")
}

/// Waits until `address` accepts connections, failing early when the process that should
/// listen there (the record at `index`) has exited.
fn wait_listening(
    running: &mut Running,
    address: SocketAddr,
    index: usize,
    what: &str,
) -> Result<(), LocalError> {
    let deadline = SystemTime::now() + READY_TIMEOUT;
    let log = running.state.processes[index].log.clone();
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        let exited = running
            .children
            .get_mut(index)
            .is_some_and(|child| matches!(child.try_wait(), Ok(Some(_))));
        if exited {
            return Err(LocalError::Command {
                command: what.to_string(),
                reason: format!("exited at start; see {}", log.display()),
            });
        }
        if SystemTime::now() >= deadline {
            return Err(LocalError::NotReady {
                what: what.to_string(),
                seconds: READY_TIMEOUT.as_secs(),
                log,
            });
        }
        // No event says when another process starts listening; the deadline bounds the poll.
        thread::sleep(Duration::from_millis(100));
    }
}

/// Starts `command` and records it before anything else happens. Returns its index among the
/// records (and children).
fn record(
    running: &mut Running,
    command: Command,
    name: &str,
    role: Role,
    log: &Path,
    admin: Option<String>,
) -> Result<usize, LocalError> {
    let (child, record) = process::spawn(command, name, role, log)?;
    running.children.push(child);
    running
        .state
        .processes
        .push(ProcessRecord { admin, ..record });
    running.dir.save(&running.state)?;
    Ok(running.state.processes.len() - 1)
}

fn identity(mesh: &LocalMesh, plan: &Plan, name: &str) -> Result<ProxyIdentity, LocalError> {
    let (spec, placed) = mesh
        .workloads
        .iter()
        .zip(&plan.workloads)
        .find(|(w, _)| w.name == name)
        .ok_or_else(|| LocalError::Config(format!("workload {name} has no plan")))?;
    Ok(ProxyIdentity {
        kind: ProxyKind::Sidecar,
        ip: placed.ip.to_string(),
        pod: spec.name.clone(),
        namespace: spec.namespace.clone(),
        service_account: spec.service_account.clone(),
        labels: spec.labels.clone(),
        workload_name: spec.name.clone(),
        mesh_id: String::new(),
        cluster_domain: render::CLUSTER_DOMAIN.to_string(),
    })
}

fn write_bootstrap(
    running: &Running,
    name: &str,
    identity: &ProxyIdentity,
    admin: SocketAddr,
) -> Result<PathBuf, LocalError> {
    let bootstrap = bootstrap::bootstrap(identity, xds_address(&running.state.plan), admin);
    let yaml = bootstrap::to_yaml(&bootstrap)
        .map_err(|e| LocalError::Config(format!("the bootstrap of {name}: {e}")))?;
    let dir = running.dir.proxies_dir();
    let path = dir.join(format!("{name}.yaml"));
    write_atomically(&dir.join(format!(".{name}.yaml.tmp")), &path, &yaml)?;
    Ok(path)
}

/// Captures the workload's traffic with `mesh-proxy init`, then starts its proxy as the proxy
/// user inside the namespace (`setpriv` drops root after `ip netns exec` has entered it, which
/// needs root).
fn start_sidecar(
    running: &mut Running,
    mesh: &LocalMesh,
    proxy: &Path,
    name: &str,
) -> Result<(), LocalError> {
    let identity = identity(mesh, &running.state.plan, name)?;
    let netns = running
        .state
        .plan
        .workload(name)
        .map(|w| w.netns.clone())
        .ok_or_else(|| LocalError::Config(format!("workload {name} has no plan")))?;
    let proxy_path = proxy.to_string_lossy();
    net::run("ip", &["netns", "exec", &netns, &proxy_path, "init"])?;
    let admin = SocketAddr::from(([127, 0, 0, 1], proxy_ports::ADMIN));
    let bootstrap = write_bootstrap(running, name, &identity, admin)?;
    let uid = PROXY_UID.to_string();
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", &netns, "setpriv"])
        .args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "--"])
        .arg(proxy)
        .arg("run")
        .arg("--bootstrap")
        .arg(&bootstrap);
    let log = running.dir.log(name, true);
    record(
        running,
        command,
        name,
        Role::Proxy,
        &log,
        Some(format!("{admin} in {netns}")),
    )?;
    Ok(())
}

fn start_gateway(running: &mut Running, proxy: &Path) -> Result<(), LocalError> {
    let identity = ProxyIdentity {
        kind: ProxyKind::Router,
        ip: "127.0.0.1".to_string(),
        pod: GATEWAY_NAME.to_string(),
        namespace: GATEWAY_NAMESPACE.to_string(),
        service_account: GATEWAY_NAME.to_string(),
        labels: [("istio".to_string(), GATEWAY_NAME.to_string())]
            .into_iter()
            .collect(),
        workload_name: GATEWAY_NAME.to_string(),
        mesh_id: String::new(),
        cluster_domain: render::CLUSTER_DOMAIN.to_string(),
    };
    let admin: SocketAddr = GATEWAY_ADMIN
        .parse()
        .map_err(|e| LocalError::Config(format!("{GATEWAY_ADMIN}: {e}")))?;
    let bootstrap = write_bootstrap(running, GATEWAY_NAME, &identity, admin)?;
    let mut command = Command::new(proxy);
    command
        .arg("run")
        .arg("--bootstrap")
        .arg(&bootstrap)
        .args(["--bind-ip", "127.0.0.1", "--health-address", GATEWAY_HEALTH])
        .args(["--metrics-address", GATEWAY_METRICS])
        .uid(PROXY_UID)
        .gid(PROXY_UID);
    let log = running.dir.log(GATEWAY_NAME, true);
    record(
        running,
        command,
        GATEWAY_NAME,
        Role::Gateway,
        &log,
        Some(GATEWAY_ADMIN.to_string()),
    )?;
    running.state.gateway = Some(format!("http://{GATEWAY_ADDRESS}"));
    running.dir.save(&running.state)
}
