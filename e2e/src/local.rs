//! The local substrate: the whole mesh on this machine, brought up through `meshctl local`'s
//! library: in network namespaces with real iptables capture (needs root), or in explicit mode,
//! the workloads on loopback sending their calls to their sidecars as an HTTP proxy.

use std::{
    cell::RefCell,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Output,
};

use meshctl::local::{
    self, Running, UpOptions,
    cli::{apply_config, delete_config, exec_command},
    plan::Mode,
    spec::LocalMesh,
    state::{State, StateDir},
    up::{GATEWAY_ADDRESS, GATEWAY_ADMIN},
};

use crate::{
    cluster::{Cluster, ClusterError},
    http::{self, HttpRequest},
};

/// The name the ingress gateway goes by in [`Cluster::proxy_admin`].
pub const GATEWAY: &str = "ingressgateway";

/// A local mesh this process brought up; dropping it brings it down.
#[derive(Debug)]
pub struct LocalCluster {
    // Stopping and starting the control plane changes what runs; the scenarios hold the
    // cluster shared.
    running: RefCell<Option<Running>>,
    dir: StateDir,
    // Commands run with `exec` find the workspace's binaries (e.g. `tcp-echo`) first, as a
    // container image would have them on its PATH.
    bin_dir: PathBuf,
    // Keeps the state directory alive as long as the mesh.
    _state: tempfile::TempDir,
}

// === impl LocalCluster ===

impl LocalCluster {
    /// Brings up the meshes described by `files` with the binaries in `bin_dir`, the way
    /// `meshctl local up -f …` does: in network namespaces (fails with `NotRoot` when not
    /// root), or in the mode asked for.
    pub fn up(files: &[PathBuf], bin_dir: &Path) -> Result<Self, ClusterError> {
        Self::up_in(files, bin_dir, Mode::Namespaces)
    }

    /// Brings up the meshes described by `files` in `mode`, as `meshctl local up --mode`.
    pub fn up_in(files: &[PathBuf], bin_dir: &Path, mode: Mode) -> Result<Self, ClusterError> {
        let mesh = LocalMesh::read(files).map_err(substrate("read the local mesh files"))?;
        let state = tempfile::tempdir().map_err(|source| ClusterError::Io {
            what: "create a state directory".into(),
            source,
        })?;
        let mut options = UpOptions::new(state.path());
        options.bin_dir = Some(bin_dir.to_owned());
        options.mode = Some(mode);
        let mut progress = Vec::new();
        let running =
            local::up(&mesh, &options, &mut progress).map_err(|e| ClusterError::Substrate {
                what: "meshctl local up".into(),
                reason: format!("{e}\n{}", String::from_utf8_lossy(&progress)),
            })?;
        Ok(Self {
            running: RefCell::new(Some(running)),
            dir: StateDir::new(state.path()),
            bin_dir: bin_dir.to_owned(),
            _state: state,
        })
    }

    /// The mesh's instance id: its namespaces and links are named after it.
    pub fn id(&self) -> Option<String> {
        let running = self.running.borrow();
        running.as_ref().map(|r| r.state().plan.id.clone())
    }

    /// What runs, as recorded in the state directory; `None` once down.
    pub fn state(&self) -> Option<State> {
        let running = self.running.borrow();
        running.as_ref().map(|r| r.state().clone())
    }

    /// Brings the mesh down, reporting what could not be cleaned up.
    pub fn down(self) -> Result<(), ClusterError> {
        match self.running.take() {
            Some(running) => running.down().map_err(substrate("meshctl local down")),
            None => Ok(()),
        }
    }

    /// Runs `f` on the running mesh.
    fn with_running<T>(
        &self,
        f: impl FnOnce(&mut Running) -> Result<T, ClusterError>,
    ) -> Result<T, ClusterError> {
        let mut running = self.running.borrow_mut();
        let running = running.as_mut().ok_or_else(|| ClusterError::Substrate {
            what: "the local mesh".into(),
            reason: "it is down".into(),
        })?;
        f(running)
    }
}

impl Cluster for LocalCluster {
    fn apply(&self, manifest: &Path) -> Result<(), ClusterError> {
        apply_config(&self.dir, manifest)
            .map(drop)
            .map_err(substrate(format!("apply {}", manifest.display())))
    }

    fn delete(&self, manifest: &Path) -> Result<(), ClusterError> {
        delete_config(&self.dir, manifest)
            .map(drop)
            .map_err(substrate(format!("delete {}", manifest.display())))
    }

    fn exec(&self, workload: &str, argv: &[String]) -> Result<Output, ClusterError> {
        let what = format!("exec in {workload}: {}", argv.join(" "));
        let mut command = self.with_running(|running| {
            exec_command(running.state(), workload, argv).map_err(substrate(what.clone()))
        })?;
        let path = std::env::var_os("PATH").unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(self.bin_dir.clone()).chain(std::env::split_paths(&path)),
        )
        .map_err(|e| ClusterError::Substrate {
            what: what.clone(),
            reason: format!("PATH: {e}"),
        })?;
        command
            .env("PATH", path)
            .output()
            .map_err(|source| ClusterError::Io { what, source })
    }

    fn stop_control_plane(&self) -> Result<(), ClusterError> {
        self.with_running(|running| {
            running
                .stop_control_plane()
                .map_err(substrate("stop the control plane"))
        })
    }

    fn start_control_plane(&self) -> Result<(), ClusterError> {
        self.with_running(|running| {
            running
                .start_control_plane()
                .map_err(substrate("start the control plane"))
        })
    }

    fn gateway(&self) -> SocketAddr {
        // A constant of meshctl local; a parse failure is a bug in it, not an input error.
        GATEWAY_ADDRESS
            .parse()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8080)))
    }

    fn proxy_admin(&self, workload: &str, path: &str) -> Result<String, ClusterError> {
        let request = if workload == GATEWAY {
            // The gateway runs in the root namespace, its admin on a port of its own.
            HttpRequest::get(&format!("http://{GATEWAY_ADMIN}{path}"))
        } else {
            // In the pod's namespace, or on its own address in explicit mode.
            let admin = self.with_running(|running| {
                let plan = &running.state().plan;
                plan.workload(workload)
                    .map(|pod| plan.sidecar_admin(pod))
                    .ok_or_else(|| ClusterError::Substrate {
                        what: format!("the admin API of {workload}"),
                        reason: "no such workload".into(),
                    })
            })?;
            HttpRequest::get(&format!("http://{admin}{path}"))
        };
        let output = if workload == GATEWAY {
            http::curl_here(&request.curl_args(None))?
        } else {
            self.exec(workload, &request.curl_args(None))?
        };
        Ok(http::parse_curl(&output)?.body)
    }
}

fn substrate<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> ClusterError {
    let what = what.into();
    move |e| ClusterError::Substrate {
        what,
        reason: e.to_string(),
    }
}
