//! What a workload finds in its environment, and Kubernetes' `$(VAR)` expansion of its command.
//!
//! The variables follow the names a pod spec would set through the downward API (`POD_NAME`,
//! `POD_NAMESPACE`, `POD_IP`, …). `BIND_IP` is the local mesh's own: the address a workload
//! should listen on. In a namespace that is `0.0.0.0`, since the sidecar's inbound side reaches
//! the application on `127.0.0.1`, as in a pod; in explicit mode it is the workload's own
//! loopback address, since every workload shares the host's ports. In explicit mode `http_proxy`
//! points outbound HTTP at the workload's sidecar, which routes it by its target.

use std::{collections::BTreeMap, net::Ipv4Addr};

use mesh_common::well_known::proxy_ports;

use super::{
    plan::{Mode, Plan, WorkloadPlan},
    spec::WorkloadSpec,
};

/// The environment of `placed`'s pod, as a command run in it (`exec`) sees it: the pod's
/// names and addresses and, in explicit mode, its sidecar as the HTTP proxy.
pub fn pod_env(plan: &Plan, placed: &WorkloadPlan) -> BTreeMap<String, String> {
    let ip = placed.ip.to_string();
    let bind = match plan.mode {
        Mode::Namespaces => Ipv4Addr::UNSPECIFIED.to_string(),
        Mode::Explicit => ip.clone(),
    };
    let mut env = BTreeMap::from([
        ("POD_NAME".to_string(), placed.name.clone()),
        ("HOSTNAME".to_string(), placed.name.clone()),
        ("POD_NAMESPACE".to_string(), placed.namespace.clone()),
        ("POD_IP".to_string(), ip.clone()),
        ("INSTANCE_IP".to_string(), ip.clone()),
        ("BIND_IP".to_string(), bind),
    ]);
    if plan.mode == Mode::Explicit {
        let proxy = format!("http://{ip}:{}", proxy_ports::OUTBOUND_CAPTURE);
        // The pod's own address and loopback are reached directly: the sidecar's admin API,
        // the application itself.
        let direct = format!("{ip},127.0.0.1,localhost,::1");
        // curl reads only the lower-case `http_proxy`; other clients read the upper case.
        for (name, value) in [
            ("http_proxy", &proxy),
            ("HTTP_PROXY", &proxy),
            ("no_proxy", &direct),
            ("NO_PROXY", &direct),
        ] {
            env.insert(name.to_string(), value.clone());
        }
    }
    env
}

/// The environment of `workload`'s process: [`pod_env`], its service account, and the file's
/// `env`, which wins over both.
pub fn workload_env(
    plan: &Plan,
    spec: &WorkloadSpec,
    placed: &WorkloadPlan,
) -> BTreeMap<String, String> {
    let mut env = pod_env(plan, placed);
    env.insert("SERVICE_ACCOUNT".to_string(), spec.service_account.clone());
    env.extend(spec.env.clone());
    env
}

/// `arg` with each `$(NAME)` replaced by `env`'s value, as Kubernetes expands a container's
/// `command` and `args`: `$$` is a literal `$`, and a reference to an unknown variable, or one
/// not closed, is left as it is.
pub fn expand(arg: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(reference) = after.strip_prefix('(')
            && let Some(end) = reference.find(')')
        {
            let name = &reference[..end];
            match env.get(name) {
                Some(value) => out.push_str(value),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &reference[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
