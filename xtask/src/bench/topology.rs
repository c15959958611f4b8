//! The topologies compared, and starting the proxies of one: pinned to their CPU, each from
//! its bootstrap file, ready once its admin interface answers `/ready`.

use std::{
    fs::File,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

use super::{
    bootstrap::{Hop, bootstrap},
    load::client::Protocol,
};

/// How long a proxy has to answer `/ready` after it starts.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A path from the load generator to the upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// Client straight to the upstream: the floor every proxy adds to.
    Direct,
    /// Through one mesh-proxy.
    MeshOneHop,
    /// Through two mesh-proxies, as between two sidecars.
    MeshTwoHops,
    /// Through one Envoy.
    EnvoyOneHop,
    /// Through two Envoys.
    EnvoyTwoHops,
}

/// Which proxy a topology runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyKind {
    /// mesh-proxy.
    Mesh,
    /// Envoy.
    Envoy,
}

/// The binaries and placement the proxies are started with.
#[derive(Clone, Debug)]
pub struct Launcher {
    /// mesh-proxy, if it can run a bootstrap file.
    pub mesh: Option<PathBuf>,
    /// Flags mesh-proxy gets besides the bootstrap and the worker count.
    pub mesh_args: Vec<String>,
    /// Envoy, if found.
    pub envoy: Option<PathBuf>,
    /// The CPU every proxy is pinned to (with `taskset`), if pinning is possible.
    pub cpu: Option<usize>,
    /// Where bootstrap files and proxy logs go.
    pub dir: PathBuf,
}

/// A started proxy process. Dropping it kills the process.
#[derive(Debug)]
pub struct Proxy {
    /// The hop it serves.
    pub hop: Hop,
    kind: ProxyKind,
    child: Child,
}

/// The proxies of one topology, started for one protocol.
#[derive(Debug)]
pub struct Deployment {
    /// Where the load generator sends.
    pub entry: SocketAddr,
    /// The proxies, client side first (none for [`Topology::Direct`]).
    pub proxies: Vec<Proxy>,
}

// === impl Topology ===

impl Topology {
    /// Every topology, in the order of each round.
    pub const ALL: [Topology; 5] = [
        Topology::Direct,
        Topology::MeshOneHop,
        Topology::EnvoyOneHop,
        Topology::MeshTwoHops,
        Topology::EnvoyTwoHops,
    ];

    /// The name the report uses.
    pub fn label(self) -> &'static str {
        match self {
            Topology::Direct => "direct",
            Topology::MeshOneHop => "mesh-proxy, 1 hop",
            Topology::MeshTwoHops => "mesh-proxy, 2 hops",
            Topology::EnvoyOneHop => "Envoy, 1 hop",
            Topology::EnvoyTwoHops => "Envoy, 2 hops",
        }
    }

    /// The proxy it runs and how many of them.
    pub fn proxies(self) -> Option<(ProxyKind, usize)> {
        match self {
            Topology::Direct => None,
            Topology::MeshOneHop => Some((ProxyKind::Mesh, 1)),
            Topology::MeshTwoHops => Some((ProxyKind::Mesh, 2)),
            Topology::EnvoyOneHop => Some((ProxyKind::Envoy, 1)),
            Topology::EnvoyTwoHops => Some((ProxyKind::Envoy, 2)),
        }
    }

    /// The Envoy topology with as many hops, which this one is compared with.
    pub fn envoy_counterpart(self) -> Option<Topology> {
        match self {
            Topology::Direct => None,
            Topology::MeshOneHop | Topology::EnvoyOneHop => Some(Topology::EnvoyOneHop),
            Topology::MeshTwoHops | Topology::EnvoyTwoHops => Some(Topology::EnvoyTwoHops),
        }
    }
}

// === impl ProxyKind ===

impl ProxyKind {
    /// The name the report uses.
    pub fn label(self) -> &'static str {
        match self {
            ProxyKind::Mesh => "mesh-proxy",
            ProxyKind::Envoy => "Envoy",
        }
    }

    /// A name fit for a file name.
    pub fn slug(self) -> &'static str {
        match self {
            ProxyKind::Mesh => "mesh",
            ProxyKind::Envoy => "envoy",
        }
    }
}

// === impl Launcher ===

impl Launcher {
    /// Starts the proxies of `topology` in front of `upstream` and waits until each is ready.
    /// `base_id` tells concurrent Envoys apart; each proxy takes the next one.
    pub fn deploy(
        &self,
        topology: Topology,
        protocol: Protocol,
        upstream: SocketAddr,
        base_id: &mut u32,
    ) -> anyhow::Result<Deployment> {
        let Some((kind, hops)) = topology.proxies() else {
            return Ok(Deployment {
                entry: upstream,
                proxies: Vec::new(),
            });
        };
        // Started from the upstream side, so each proxy's next hop is already listening.
        let mut proxies = Vec::with_capacity(hops);
        let mut next = upstream;
        for side in (0..hops).rev() {
            let name = match (hops, side) {
                (1, _) => "sidecar",
                (_, 0) => "client-side",
                _ => "server-side",
            };
            let hop = Hop {
                name: format!("{}-{}-{name}", slug(topology), protocol.slug()),
                listen: free_port()?,
                admin: free_port()?,
                next,
                protocol,
                services: 0,
            };
            *base_id += 1;
            let proxy = self.start(kind, hop, *base_id)?;
            next = proxy.hop.listen;
            proxies.push(proxy);
        }
        proxies.reverse();
        Ok(Deployment {
            entry: next,
            proxies,
        })
    }

    /// Starts one `kind` proxy serving `hop` and waits until it is ready. `base_id` must
    /// differ from every other running Envoy's.
    pub fn start(&self, kind: ProxyKind, hop: Hop, base_id: u32) -> anyhow::Result<Proxy> {
        let config = self.dir.join(format!("{}.json", hop.name));
        std::fs::write(&config, serde_json::to_vec_pretty(&bootstrap(&hop))?)
            .with_context(|| format!("writing {}", config.display()))?;
        let log_path = self.dir.join(format!("{}.log", hop.name));
        let log =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let config_arg = config.display().to_string();
        let (binary, args): (&Path, Vec<String>) = match kind {
            ProxyKind::Envoy => (
                self.envoy.as_deref().context("Envoy was not found")?,
                vec![
                    "-c".into(),
                    config_arg,
                    "--concurrency".into(),
                    "1".into(),
                    "--disable-hot-restart".into(),
                    "--base-id".into(),
                    base_id.to_string(),
                    "--log-level".into(),
                    "warn".into(),
                ],
            ),
            ProxyKind::Mesh => (
                self.mesh.as_deref().context("mesh-proxy cannot run")?,
                [
                    "run".into(),
                    "--bootstrap".into(),
                    config_arg,
                    "--concurrency".into(),
                    "1".into(),
                ]
                .into_iter()
                .chain(self.mesh_args.iter().cloned())
                .collect(),
            ),
        };
        // `taskset` execs the proxy, so the child's pid is the proxy's.
        let mut command = match self.cpu {
            Some(cpu) => {
                let mut command = Command::new("taskset");
                command.arg("-c").arg(cpu.to_string()).arg(binary);
                command
            }
            None => Command::new(binary),
        };
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut proxy = Proxy { hop, kind, child };
        proxy
            .wait_ready(&log_path)
            .with_context(|| format!("{} did not become ready", proxy.hop.name))?;
        Ok(proxy)
    }
}

// === impl Proxy ===

impl Proxy {
    /// The process id, for /proc.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_ready(&mut self, log: &Path) -> anyhow::Result<()> {
        let attempts = READY_TIMEOUT.as_millis() / POLL.as_millis();
        for _ in 0..attempts {
            if let Some(status) = self.child.try_wait()? {
                let output = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = output.lines().rev().take(10).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                bail!("it exited ({status}):\n{}", tail.join("\n"));
            }
            match probe_admin(self.hop.admin) {
                Admin::Ready => return Ok(()),
                // mesh-proxy builds without an admin interface run the listeners alone: then
                // a listener that accepts is the only readiness there is.
                Admin::Absent
                    if self.kind == ProxyKind::Mesh
                        && TcpStream::connect_timeout(&self.hop.listen, PROBE_TIMEOUT).is_ok() =>
                {
                    return Ok(());
                }
                Admin::Absent | Admin::NotReady => {}
            }
            std::thread::sleep(POLL);
        }
        bail!(
            "no answer from {}/ready in {READY_TIMEOUT:?}",
            self.hop.admin
        )
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How often readiness is polled.
const POLL: Duration = Duration::from_millis(50);

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

/// What the admin interface said to `GET /ready`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Admin {
    /// 200.
    Ready,
    /// Another answer, or none in time.
    NotReady,
    /// Nothing listens on the admin port.
    Absent,
}

fn probe_admin(admin: SocketAddr) -> Admin {
    let attempt = || -> std::io::Result<bool> {
        let mut stream = TcpStream::connect_timeout(&admin, PROBE_TIMEOUT)?;
        stream.set_read_timeout(Some(Duration::from_millis(500)))?;
        // HTTP/1.1: Envoy refuses HTTP/1.0 unless told to accept it.
        stream.write_all(b"GET /ready HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        Ok(answer.starts_with(b"HTTP/1.1 200"))
    };
    match attempt() {
        Ok(true) => Admin::Ready,
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused => Admin::Absent,
        Ok(false) | Err(_) => Admin::NotReady,
    }
}

/// A port of 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}

fn slug(topology: Topology) -> &'static str {
    match topology {
        Topology::Direct => "direct",
        Topology::MeshOneHop | Topology::MeshTwoHops => "mesh",
        Topology::EnvoyOneHop | Topology::EnvoyTwoHops => "envoy",
    }
}
