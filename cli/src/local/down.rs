//! `down`: stop every process, then remove the namespaces, links, rules and files `up` made.
//!
//! Works from the recorded state alone, so it also cleans up after a crashed `up`, and checks
//! that each thing exists before removing it, so that running it twice is harmless. Every step
//! is tried even when an earlier one fails; the first error is returned at the end.

use std::process::Child;

use super::{
    LocalError, net,
    plan::Mode,
    process,
    state::{State, StateDir},
};

/// Stops the instance recorded in `state_dir`, if any. Returns whether one was recorded.
pub fn down(state_dir: &StateDir) -> Result<bool, LocalError> {
    match state_dir.load()? {
        None => Ok(false),
        Some(state) => down_state(state_dir, &state, &mut []).map(|()| true),
    }
}

/// Stops the processes of `state` (reaping `children`, the ones this process started) and
/// removes what `up` made.
pub fn down_state(
    state_dir: &StateDir,
    state: &State,
    children: &mut [Child],
) -> Result<(), LocalError> {
    process::stop(&state.processes, children);
    let mut first_error = None;
    let mut keep = |result: Result<bool, LocalError>| {
        if let Err(e) = result
            && first_error.is_none()
        {
            first_error = Some(e);
        }
    };
    // Explicit mode made no namespaces, links or rules.
    let namespaces = state.plan.mode == Mode::Namespaces;
    for pod in state.plan.workloads.iter().filter(|_| namespaces) {
        keep(net::remove_etc_dir(&pod.netns));
        keep(net::delete_netns(&pod.netns));
        // Deleting the namespace takes the pair with it; this is for a start that failed
        // before the pair was moved in.
        keep(net::delete_link(&pod.host_veth));
    }
    if namespaces {
        keep(net::delete_link(&state.plan.bridge));
    }
    if let Some(bridge) = &state.forward_rule {
        keep(net::remove_forward_rule(bridge));
    }
    match first_error {
        Some(error) => Err(error),
        None => state_dir.clear(),
    }
}
