//! Stopping and starting the control plane of a running local mesh, as when its pod is
//! rescheduled: the proxies keep serving what they last received and reconnect when it is back.

use std::sync::atomic::AtomicBool;

use super::{
    LocalError, process,
    state::Role,
    up::{Running, start_control_plane},
};

// === impl Running ===

impl Running {
    /// Stops the control plane (SIGTERM, then SIGKILL after the grace period), leaving every
    /// proxy and workload running.
    pub fn stop_control_plane(&mut self) -> Result<(), LocalError> {
        let index = self
            .state
            .processes
            .iter()
            .position(|p| p.role == Role::ControlPlane)
            .ok_or_else(|| LocalError::Config("the control plane is not running".into()))?;
        let record = self.state.processes.remove(index);
        // Children line up with the records this process started; a mesh adopted from a state
        // file has none, and the process is stopped by its recorded pid alone.
        let mut children: Vec<_> = (index < self.children.len())
            .then(|| self.children.remove(index))
            .into_iter()
            .collect();
        process::stop(std::slice::from_ref(&record), &mut children);
        self.dir.save(&self.state)
    }

    /// Starts the control plane again after [`Running::stop_control_plane`], with the same
    /// config directory and addresses, and waits until it serves xDS.
    pub fn start_control_plane(&mut self) -> Result<(), LocalError> {
        if self
            .state
            .processes
            .iter()
            .any(|p| p.role == Role::ControlPlane && process::is_running(p))
        {
            return Err(LocalError::Config(
                "the control plane is already running".into(),
            ));
        }
        let binary = self.control_plane.clone().ok_or_else(|| {
            LocalError::Config("this mesh was brought up without a control plane".into())
        })?;
        start_control_plane(self, &binary, &AtomicBool::new(false))
    }
}
