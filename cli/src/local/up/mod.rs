//! `up`: the network, the control plane, a sidecar per workload, the workloads and the ingress
//! gateway, each step recorded in the state directory before it is taken.
//!
//! A step that fails tears down everything before it, so that a failed `up` leaves the machine
//! as it found it. Given a `ready_timeout`, `up` then waits until the sidecars, the workloads
//! and the gateway are ready ([`ready`]), which fails (and tears down) the same way.
//!
//! As root, each workload gets a network namespace ([`Mode::Namespaces`]); otherwise, or when
//! asked, the workloads share the host's network on loopback addresses of their own
//! ([`Mode::Explicit`]).

mod listening;
mod mode;
mod proxies;
pub mod ready;

use std::{
    fs,
    io::Write,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::{Child, Command},
    sync::atomic::AtomicBool,
    time::Duration,
};

use self::mode::{choose_mode, make_plan};
pub(super) use self::proxies::start_control_plane;
use self::{
    proxies::{proxy_binary_for_proxy_user, start_gateway, start_sidecar, xds_address},
    ready::Wait,
};
use super::{
    LocalError, down, env, io, is_root, net,
    plan::{self, LOOPBACK_NETWORK, Mode, Network},
    process::{self, find_binary},
    render,
    spec::LocalMesh,
    state::{ProcessRecord, Role, State, StateDir},
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
    /// The pods' network, in namespace mode.
    pub pod_network: Network,
    /// How workloads run; by default namespaces as root and explicit mode otherwise.
    pub mode: Option<Mode>,
    /// The instance id; a random one by default.
    pub id: Option<String>,
    /// How long to wait, once everything has started, for the sidecars and the gateway to
    /// answer `/healthz/ready` and the workloads to listen on their ports; a part not ready by
    /// then fails `up`. `None` (the default) returns once everything has started, for callers
    /// that wait in their own way: a workload that never listens on a port it declares (a
    /// crashed application behind a live sidecar) is then no error.
    pub ready_timeout: Option<Duration>,
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
            mode: None,
            id: None,
            ready_timeout: None,
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
    up_unless(mesh, options, progress, &AtomicBool::new(false))
}

/// [`up`], given up (with [`LocalError::Interrupted`], everything started torn down) when
/// `stop` is set while it waits for a process to be ready.
pub fn up_unless(
    mesh: &LocalMesh,
    options: &UpOptions,
    progress: &mut dyn Write,
    stop: &AtomicBool,
) -> Result<Running, LocalError> {
    let mode = choose_mode(options, is_root(), progress)?;
    let dir = StateDir::new(&options.state_dir);
    if let Some(existing) = dir.load()? {
        return Err(LocalError::AlreadyUp {
            state_dir: dir.root.clone(),
            id: existing.plan.id,
        });
    }
    let plan = make_plan(mesh, options, mode)?;
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
    start(&mut running, mesh, options, progress, stop)?;
    Ok(running)
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

fn step(progress: &mut dyn Write, message: &str) {
    // Progress is a courtesy: a closed stdout must not stop the mesh.
    let _ = writeln!(progress, "✔ {message}");
}

fn start(
    running: &mut Running,
    mesh: &LocalMesh,
    options: &UpOptions,
    progress: &mut dyn Write,
    stop: &AtomicBool,
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

    let mode = running.state.plan.mode;
    match mode {
        Mode::Namespaces => network(running, mesh, progress)?,
        Mode::Explicit => step(
            progress,
            &format!(
                "{} workloads on {}, no namespaces",
                mesh.workloads.len(),
                LOOPBACK_NETWORK
            ),
        ),
    }
    let binaries = match (binaries, mode) {
        (Some((controlplane, proxy)), Mode::Namespaces) => Some((
            controlplane,
            proxy_binary_for_proxy_user(&running.dir, &proxy)?,
        )),
        (binaries, _) => binaries,
    };
    if let Some((controlplane, proxy)) = &binaries {
        config(running, mesh)?;
        running.control_plane = Some(controlplane.clone());
        start_control_plane(running, controlplane, stop)?;
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
        let vars = env::workload_env(&running.state.plan, workload, &placed);
        let mut command = match mode {
            Mode::Namespaces => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &placed.netns]).arg(program);
                command
            }
            Mode::Explicit => Command::new(program),
        };
        command
            .args(workload.command[1..].iter().map(|a| env::expand(a, &vars)))
            .envs(&vars);
        let log = running.dir.log(&workload.name, false);
        record(running, command, &workload.name, Role::Workload, &log, None)?;
    }
    step(
        progress,
        &format!("{} workloads started", mesh.workloads.len()),
    );
    if let Some((_, proxy)) = &binaries {
        start_gateway(running, proxy)?;
        let started = match options.ready_timeout {
            // Said once it is ready, below.
            Some(_) => "ingress gateway started".to_string(),
            None => format!("ingress gateway on http://{GATEWAY_ADDRESS}"),
        };
        step(progress, &started);
    }
    if let Some(timeout) = options.ready_timeout {
        ready::until_ready(running, mesh, &Wait::new(timeout, stop), progress)?;
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
        super::state::write_atomically(&temporary, &dir.join(&file.path), &file.text)?;
    }
    for path in &mesh.config {
        super::cli::apply_config(&running.dir, path)?;
    }
    Ok(())
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

#[cfg(test)]
mod tests;
