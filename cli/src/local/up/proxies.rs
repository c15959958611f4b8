//! The mesh's own processes: the control plane, a sidecar per workload and the ingress gateway.

use std::{
    fs,
    net::SocketAddr,
    os::unix::{fs::PermissionsExt as _, process::CommandExt as _},
    path::{Path, PathBuf},
    process::Command,
    sync::atomic::AtomicBool,
};

use mesh_common::well_known::{PROXY_UID, control_plane_ports, proxy_ports};
use mesh_xds::bootstrap::{self, ProxyIdentity, ProxyKind};

use super::{
    GATEWAY_ADDRESS, GATEWAY_ADMIN, GATEWAY_HEALTH, GATEWAY_METRICS, GATEWAY_NAME,
    GATEWAY_NAMESPACE, MONITORING_ADDRESS, READY_TIMEOUT, Running,
    ready::{self, Check, Probe, Wait},
    record,
};
use crate::local::{
    LocalError, io, net,
    plan::{Mode, Plan},
    render,
    spec::LocalMesh,
    state::{Role, StateDir, write_atomically},
};

/// The proxies run as uid 1337, which may not reach the build's binary (a target directory
/// under root's home is not searchable by other users): they run a link to it, or a copy,
/// in the state directory that `prepare_dirs` opened to them.
pub(super) fn proxy_binary_for_proxy_user(
    dir: &StateDir,
    proxy: &Path,
) -> Result<PathBuf, LocalError> {
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

/// Where the control plane serves xDS: on the bridge, where the pods reach it, or on
/// `127.0.0.1` in explicit mode.
pub(super) fn xds_address(plan: &Plan) -> SocketAddr {
    SocketAddr::from((plan.host_ip, control_plane_ports::XDS_PLAINTEXT))
}

/// Starts the control plane and waits until it serves xDS, or until `stop` is set.
pub(in crate::local) fn start_control_plane(
    running: &mut Running,
    binary: &Path,
    stop: &AtomicBool,
) -> Result<(), LocalError> {
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
    let serving = Probe {
        what: "the control plane".to_string(),
        check: Check::Connect(vec![xds_address(&running.state.plan)]),
        process: Some(index),
        log,
    };
    let wait = Wait::new(READY_TIMEOUT, stop);
    ready::wait(&[serving], &mut running.children, &wait)
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

/// Starts the sidecar of workload `name`.
///
/// In a namespace: captures the workload's traffic with `mesh-proxy init`, then runs the proxy
/// as the proxy user inside it (`setpriv` drops root after `ip netns exec` has entered it, which
/// needs root). In explicit mode: runs the proxy as this user with every listener, the admin
/// API, health and metrics on the workload's own loopback address.
pub(super) fn start_sidecar(
    running: &mut Running,
    mesh: &LocalMesh,
    proxy: &Path,
    name: &str,
) -> Result<(), LocalError> {
    let identity = identity(mesh, &running.state.plan, name)?;
    let plan = &running.state.plan;
    let placed = plan
        .workload(name)
        .cloned()
        .ok_or_else(|| LocalError::Config(format!("workload {name} has no plan")))?;
    let admin = plan.sidecar_admin(&placed);
    let bootstrap = write_bootstrap(running, name, &identity, admin)?;
    let (command, admin) = match running.state.plan.mode {
        Mode::Namespaces => {
            let netns = placed.netns.as_str();
            let proxy_path = proxy.to_string_lossy();
            net::run("ip", &["netns", "exec", netns, &proxy_path, "init"])?;
            let uid = PROXY_UID.to_string();
            let mut command = Command::new("ip");
            command
                .args(["netns", "exec", netns, "setpriv"])
                .args(["--reuid", &uid, "--regid", &uid, "--clear-groups", "--"])
                .arg(proxy)
                .arg("run")
                .arg("--bootstrap")
                .arg(&bootstrap);
            (command, format!("{admin} in {netns}"))
        }
        Mode::Explicit => {
            let ip = placed.ip;
            let mut command = Command::new(proxy);
            command
                .arg("run")
                .arg("--bootstrap")
                .arg(&bootstrap)
                .args(["--bind-ip", &ip.to_string()])
                // Given, not derived from --bind-ip, so that a taken port fails the start.
                .arg("--health-address")
                .arg(SocketAddr::from((ip, proxy_ports::HEALTH)).to_string())
                .arg("--metrics-address")
                .arg(SocketAddr::from((ip, proxy_ports::METRICS)).to_string());
            (command, admin.to_string())
        }
    };
    let log = running.dir.log(name, true);
    record(running, command, name, Role::Proxy, &log, Some(admin))?;
    Ok(())
}

/// Starts the ingress gateway on `127.0.0.1`: as the proxy user in namespace mode (as root),
/// as this user in explicit mode.
pub(super) fn start_gateway(running: &mut Running, proxy: &Path) -> Result<(), LocalError> {
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
        .args(["--metrics-address", GATEWAY_METRICS]);
    if running.state.plan.mode == Mode::Namespaces {
        command.uid(PROXY_UID).gid(PROXY_UID);
    }
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
