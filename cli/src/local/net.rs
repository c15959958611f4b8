//! The network of a local mesh: one bridge in the root namespace, and per workload a network
//! namespace joined to it by a veth pair, with a default route through the host.
//!
//! Everything is done with `ip` and `iptables`, as an operator would by hand, and every removal
//! first checks that the thing exists, so that tearing down twice, or after a half-finished
//! start, does what is left and nothing else.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use super::{
    LocalError, io,
    plan::{Plan, WorkloadPlan},
};

/// Where `ip netns add` mounts the namespaces.
const NETNS_RUN_DIR: &str = "/run/netns";
/// Where `ip netns exec` finds the files it mounts over `/etc` inside a namespace.
const NETNS_ETC_DIR: &str = "/etc/netns";

/// Runs a command to completion; its stdout, or an error with its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, LocalError> {
    let command = || format!("{program} {}", args.join(" "));
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| LocalError::Command {
            command: command(),
            reason: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(LocalError::Command {
            command: command(),
            reason: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// True when the network namespace exists.
pub fn netns_exists(name: &str) -> bool {
    Path::new(NETNS_RUN_DIR).join(name).exists()
}

/// True when the network interface exists in the root namespace.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// The directory whose `hosts` file becomes `/etc/hosts` inside `netns`.
pub fn etc_dir(netns: &str) -> PathBuf {
    Path::new(NETNS_ETC_DIR).join(netns)
}

/// Creates the bridge with the host's address on it, and brings it up.
pub fn create_bridge(plan: &Plan) -> Result<(), LocalError> {
    let bridge = plan.bridge.as_str();
    let address = format!("{}/{}", plan.host_ip, plan.pod_network.prefix);
    run("ip", &["link", "add", bridge, "type", "bridge"])?;
    run("ip", &["addr", "add", &address, "dev", bridge])?;
    run("ip", &["link", "set", bridge, "up"])?;
    Ok(())
}

/// Creates the workload's namespace and plugs it into the bridge: `eth0` with its address,
/// `lo` up, and a default route through the host, which also carries the service VIPs until
/// the sidecar's capture takes them.
pub fn create_pod(plan: &Plan, pod: &WorkloadPlan) -> Result<(), LocalError> {
    let ns = pod.netns.as_str();
    let address = format!("{}/{}", pod.ip, plan.pod_network.prefix);
    let gateway = plan.host_ip.to_string();
    run("ip", &["netns", "add", ns])?;
    run(
        "ip",
        &[
            "link",
            "add",
            &pod.host_veth,
            "type",
            "veth",
            "peer",
            "name",
            &pod.pod_veth,
        ],
    )?;
    run("ip", &["link", "set", &pod.pod_veth, "netns", ns])?;
    run(
        "ip",
        &["link", "set", &pod.host_veth, "master", &plan.bridge],
    )?;
    run("ip", &["link", "set", &pod.host_veth, "up"])?;
    run(
        "ip",
        &["-n", ns, "link", "set", &pod.pod_veth, "name", "eth0"],
    )?;
    run("ip", &["-n", ns, "addr", "add", &address, "dev", "eth0"])?;
    run("ip", &["-n", ns, "link", "set", "eth0", "up"])?;
    run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
    run(
        "ip",
        &["-n", ns, "route", "add", "default", "via", &gateway],
    )?;
    Ok(())
}

/// What the pods resolve with besides their hosts file: nothing. No name server is reachable
/// from a pod, and the host's would make every unknown name wait for timeouts; a name server on
/// the pod's own loopback refuses at once.
const RESOLV_CONF: &str = "# Written by meshctl local: services resolve through /etc/hosts, and \
                           nothing else does.\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n";

/// Writes the namespace's `/etc/hosts` and `/etc/resolv.conf`.
pub fn write_hosts(netns: &str, hosts: &str) -> Result<(), LocalError> {
    let dir = etc_dir(netns);
    fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
    for (name, text) in [("hosts", hosts), ("resolv.conf", RESOLV_CONF)] {
        let path = dir.join(name);
        fs::write(&path, text).map_err(io(format!("write {}", path.display())))?;
    }
    Ok(())
}

/// True when the host drops forwarded packets by default (as Docker sets it), which, with
/// `br_netfilter` loaded, also drops traffic between two ports of our bridge.
pub fn forward_policy_drops() -> Result<bool, LocalError> {
    let rules = run("iptables", &["-w", "-S", "FORWARD"])?;
    Ok(rules.lines().any(|line| line.trim() == "-P FORWARD DROP"))
}

fn forward_rule(bridge: &str) -> [&str; 8] {
    ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT", "-w"]
}

/// Lets traffic between the bridge's ports through the FORWARD chain, ahead of any drop.
pub fn add_forward_rule(bridge: &str) -> Result<(), LocalError> {
    let rule = forward_rule(bridge);
    let mut args = vec!["-I", rule[0], "1"];
    args.extend_from_slice(&rule[1..]);
    run("iptables", &args).map(drop)
}

/// Removes the rule [`add_forward_rule`] added, if it is there. Returns whether it was.
pub fn remove_forward_rule(bridge: &str) -> Result<bool, LocalError> {
    let rule = forward_rule(bridge);
    let mut check = vec!["-C"];
    check.extend_from_slice(&rule);
    if run("iptables", &check).is_err() {
        return Ok(false);
    }
    let mut delete = vec!["-D"];
    delete.extend_from_slice(&rule);
    run("iptables", &delete)?;
    Ok(true)
}

/// Deletes the namespace if it exists (its end of the veth pair goes with it, and so does the
/// other end). Returns whether it existed.
pub fn delete_netns(name: &str) -> Result<bool, LocalError> {
    if !netns_exists(name) {
        return Ok(false);
    }
    run("ip", &["netns", "del", name])?;
    Ok(true)
}

/// Deletes the interface if it exists. Returns whether it existed.
pub fn delete_link(name: &str) -> Result<bool, LocalError> {
    if !link_exists(name) {
        return Ok(false);
    }
    match run("ip", &["link", "del", name]) {
        Ok(_) => Ok(true),
        // A veth goes when its peer's namespace is deleted, which the kernel finishes in the
        // background: gone is what was wanted.
        Err(_) if !link_exists(name) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the namespace's `/etc` directory if it exists. Returns whether it existed.
pub fn remove_etc_dir(netns: &str) -> Result<bool, LocalError> {
    let dir = etc_dir(netns);
    if !dir.exists() {
        return Ok(false);
    }
    fs::remove_dir_all(&dir).map_err(io(format!("remove {}", dir.display())))?;
    Ok(true)
}
