//! Which mode a mesh runs in, and its plan in that mode.

use std::io::Write;

use super::UpOptions;
use crate::local::{
    LocalError, net,
    plan::{self, LOOPBACK_NETWORK, Mode, Plan},
    spec::LocalMesh,
};

/// The mode `options` ask for, or the one `root` allows; says which and why on `progress`.
pub(super) fn choose_mode(
    options: &UpOptions,
    root: bool,
    progress: &mut dyn Write,
) -> Result<Mode, LocalError> {
    let mode = match (options.mode, root) {
        (Some(Mode::Namespaces), false) => return Err(LocalError::NotRoot),
        (Some(mode), _) => mode,
        (None, true) => Mode::Namespaces,
        (None, false) => Mode::Explicit,
    };
    if mode == Mode::Explicit && !options.mesh {
        return Err(LocalError::Config(
            "explicit mode needs the mesh: its workloads reach each other only through their \
             sidecars"
                .into(),
        ));
    }
    let why = match (options.mode, root) {
        (None, false) => "not root: ",
        _ => "",
    };
    let hint = if root {
        ""
    } else {
        " (run as root for the namespace mode)"
    };
    // Progress is a courtesy: a closed stdout must not stop the mesh.
    let _ = match mode {
        Mode::Namespaces => writeln!(
            progress,
            "namespace mode — a network namespace per workload, traffic captured by its sidecar"
        ),
        Mode::Explicit => writeln!(
            progress,
            "{why}explicit-proxy mode — workloads on loopback, no traffic capture: a call goes \
             through the caller's sidecar only (http_proxy), never the callee's{hint}"
        ),
    };
    Ok(mode)
}

pub(super) fn make_plan(
    mesh: &LocalMesh,
    options: &UpOptions,
    mode: Mode,
) -> Result<Plan, LocalError> {
    if mode == Mode::Explicit {
        let id = options.id.clone().unwrap_or_else(plan::random_id);
        return Ok(Plan::explicit(mesh, &id, LOOPBACK_NETWORK)?);
    }
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
