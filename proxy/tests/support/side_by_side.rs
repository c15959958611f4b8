//! A stock Envoy and mesh-proxy started side by side, each on its own copy of one bootstrap,
//! for the interop tests that compare their answers.

use std::{future::Future, path::Path, time::Duration};

use mesh_testing::Patience;

use super::{Process, free_port, request, start_envoy, start_mesh_proxy};

/// How long each proxy may take to give its first answer.
const STARTUP: Duration = Duration::from_secs(30);

/// Both proxies, answering; they are stopped and their files removed when this is dropped.
pub struct SideBySide {
    /// Envoy's (first) listener port.
    pub envoy_port: u16,
    /// mesh-proxy's (first) listener port.
    pub mesh_port: u16,
    /// Envoy's listener ports, in the order the bootstrap was given them.
    pub envoy_ports: Vec<u16>,
    /// mesh-proxy's listener ports, in the same order.
    pub mesh_ports: Vec<u16>,
    _envoy: Process,
    _mesh: Process,
    _dir: tempfile::TempDir,
}

// === impl SideBySide ===

impl SideBySide {
    /// Writes `bootstrap(port)` for each proxy (each with a free port of its own), starts
    /// Envoy (the binary `envoy`) and mesh-proxy on them, and waits until each answers
    /// `GET ready_path`.
    pub async fn start(envoy: &Path, ready_path: &str, bootstrap: impl Fn(u16) -> String) -> Self {
        Self::with_ports(
            envoy,
            1,
            |ports| bootstrap(ports[0]),
            |ports| async move { request(ports[0], "GET", ready_path, &[]).await.map(drop) },
        )
        .await
    }

    /// Like [`start`](Self::start) with `count` free ports per proxy: the bootstrap is
    /// `bootstrap(ports)`, and a proxy is ready once `ready(ports)` succeeds (asked again until
    /// it does, for at most 30 s).
    pub async fn with_ports<R, F>(
        envoy: &Path,
        count: usize,
        bootstrap: impl Fn(&[u16]) -> String,
        ready: R,
    ) -> Self
    where
        R: Fn(Vec<u16>) -> F,
        F: Future<Output = Result<(), String>>,
    {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let envoy_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let mesh_ports: Vec<u16> = (0..count).map(|_| free_port()).collect();
        let write = |file: &str, ports: &[u16]| {
            let path = dir.path().join(file);
            std::fs::write(&path, bootstrap(ports)).expect("write the bootstrap");
            path
        };
        let envoy_file = write("envoy.yaml", &envoy_ports);
        let mesh_file = write("mesh-proxy.yaml", &mesh_ports);
        let envoy = start_envoy(envoy, &envoy_file);
        let mesh = start_mesh_proxy(&mesh_file);
        for (name, ports) in [("envoy", &envoy_ports), ("mesh-proxy", &mesh_ports)] {
            Patience::new(STARTUP)
                .eventually(|| ready(ports.clone()))
                .await
                .unwrap_or_else(|e| panic!("{name} on ports {ports:?} is not ready: {e:?}"));
        }
        Self {
            envoy_port: envoy_ports[0],
            mesh_port: mesh_ports[0],
            envoy_ports,
            mesh_ports,
            _envoy: envoy,
            _mesh: mesh,
            _dir: dir,
        }
    }
}
