//! [`ControlPlane`]: the store (config directories or a Kubernetes cluster), the xDS server and
//! the monitoring server, started together and stopped together.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    path::PathBuf,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpSocket},
    sync::watch,
    task::JoinHandle,
    time::timeout,
};

use super::{
    announce::announce,
    generator::ModelGenerator,
    metrics::{FilesParsed, Metrics},
    monitoring::{self, Monitoring},
    source::{Source, Store},
};
use crate::{
    mesh_config::MeshConfig,
    store::FileStoreError,
    xds::{Changed, DebounceOptions, Options, StatusRegistry, serve_with_shutdown},
};

/// How the xDS server coalesces snapshots: not at all. The store already debounces before it
/// builds a snapshot — a lone change at once, a burst gathered until it is quiet — as building
/// one is the expensive part and files must be read once their writes are complete; a second
/// window here would only delay every change again.
pub(super) const XDS_DEBOUNCE: DebounceOptions = DebounceOptions::NONE;

/// How long a stop waits for the servers to close their connections before dropping them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Connections the kernel completes before the server accepts them. Every proxy of a mesh
/// reconnects at once when the control plane restarts; with the default of 128, the handshakes
/// past it are dropped while the server is busy answering the first ones, and the proxies'
/// first requests are reset. The kernel caps it at `net.core.somaxconn` (4096 by default).
const LISTEN_BACKLOG: u32 = 4096;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where the mesh's objects come from.
    pub source: Source,
    /// Where the plaintext ADS server listens; port 0 picks a free one.
    pub xds_address: SocketAddr,
    /// Where the monitoring server listens; port 0 picks a free one.
    pub monitoring_address: SocketAddr,
    /// The store's debounce window: a change after a quiet window is built and pushed at
    /// once; changes within it are gathered until config is quiet this long (at most 1 s).
    pub debounce: Duration,
    /// Endpoint changes wait for the window too (`--debounce-endpoints`); else a lone one goes at once.
    pub debounce_endpoints: bool,
    pub mesh: MeshConfig,
}

/// A running control plane. Dropping it stops everything abruptly; [`ControlPlane::stop`]
/// stops it gracefully.
#[derive(Debug)]
pub struct ControlPlane {
    xds_address: SocketAddr,
    monitoring_address: SocketAddr,
    stop: watch::Sender<bool>,
    xds: JoinHandle<Result<(), tonic::transport::Error>>,
    monitoring: JoinHandle<()>,
    announcer: JoinHandle<()>,
    _store: Arc<Store>,
}

/// Why the control plane did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no config directory given")]
    NoConfigDir,
    #[error("config directory {}: {source}", dir.display())]
    ConfigDir {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("config directory {} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error(transparent)]
    Store(#[from] FileStoreError),
    #[error("{reason}")]
    Kube { reason: String },
    #[error("cannot listen on {address} for {server}: {source}")]
    Listen {
        server: &'static str,
        address: SocketAddr,
        #[source]
        source: io::Error,
    },
}

/// Why a running control plane stopped on its own.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the xDS server on {address} failed: {source}")]
    Xds {
        address: SocketAddr,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("the {server} stopped unexpectedly")]
    Stopped { server: &'static str },
}

// === impl ControlPlane ===

impl ControlPlane {
    /// Starts the store, binds both servers and starts serving.
    ///
    /// From config directories, the first snapshot is built when this returns and both servers
    /// accept connections. From a cluster, this returns once the client is built: `/ready`
    /// answers 503 and proxies that connect wait, their connections not yet accepted, until
    /// every kind has been listed and the first snapshot is built — an empty configuration
    /// would take their routes away.
    pub async fn start(config: Config) -> Result<ControlPlane, StartError> {
        let store = Arc::new(Store::start(&config, config.mesh.clone()).await?);
        let xds_listener = bind("the xDS server", config.xds_address).await?;
        let monitoring_listener = bind("the monitoring server", config.monitoring_address).await?;
        let local = |server, listener: &TcpListener, address| {
            listener.local_addr().map_err(|source| StartError::Listen {
                server,
                address,
                source,
            })
        };
        let xds_address = local("the xDS server", &xds_listener, config.xds_address)?;
        let monitoring_address = local(
            "the monitoring server",
            &monitoring_listener,
            config.monitoring_address,
        )?;

        let metrics = Arc::new(Metrics::new());
        let status = Arc::new(StatusRegistry::new());
        let generator = Arc::new(ModelGenerator::new(store.snapshots(), Arc::clone(&metrics)));
        let (changes_tx, changes) = watch::channel(Changed::default());
        let announcer = tokio::spawn(announce(
            store.snapshots(),
            changes_tx,
            Arc::clone(&generator),
            Arc::clone(&status),
        ));
        let (stop, stopping) = watch::channel(false);
        let options = Options {
            debounce: XDS_DEBOUNCE,
            status: Arc::clone(&status),
        };
        let pages = Arc::new(Monitoring {
            generator: Arc::clone(&generator),
            status,
            metrics,
            errors: store.watch_errors(),
            // Weak: the pages outlive the store only while the control plane stops.
            files_parsed: {
                let store = Arc::downgrade(&store);
                FilesParsed::new(move || store.upgrade()?.files_parsed())
            },
            ready: false.into(),
        });
        let mut listed = store.listed();
        // A file store has read its directories already: ready as soon as this returns.
        pages.ready.store(*listed.borrow(), Ordering::Release);
        let mut xds_stop = stopping.clone();
        let ready = Arc::clone(&pages);
        let xds = tokio::spawn(async move {
            let listed = async { listed.wait_for(|listed| *listed).await.map(|_| ()) };
            tokio::select! {
                // The store is gone only when the control plane is.
                listed = listed => if listed.is_err() { return Ok(()) },
                _ = xds_stop.wait_for(|stop| *stop) => return Ok(()),
            }
            // Every kind is listed and its snapshot published: a proxy accepted from now on is
            // sent the whole mesh.
            if !ready.ready.swap(true, Ordering::AcqRel) {
                tracing::info!("every kind is listed; serving xDS");
            }
            serve_with_shutdown(xds_listener, generator, changes, options, async move {
                // A dropped sender stops the server as surely as a sent stop.
                let _ = xds_stop.wait_for(|stop| *stop).await;
            })
            .await
        });
        let monitoring = tokio::spawn(monitoring::serve(
            monitoring_listener,
            Arc::clone(&pages),
            stopping,
        ));
        tracing::info!(
            xds = %xds_address,
            monitoring = %monitoring_address,
            source = %config.source.describe(),
            "control plane started"
        );
        Ok(ControlPlane {
            xds_address,
            monitoring_address,
            stop,
            xds,
            monitoring,
            announcer,
            _store: store,
        })
    }

    /// Where the xDS server listens.
    pub fn xds_address(&self) -> SocketAddr {
        self.xds_address
    }

    /// Where the monitoring server listens.
    pub fn monitoring_address(&self) -> SocketAddr {
        self.monitoring_address
    }

    /// Serves until `shutdown` resolves, then stops gracefully; or until a server fails.
    pub async fn run_until(mut self, shutdown: impl Future<Output = ()>) -> Result<(), RunError> {
        let failed = tokio::select! {
            () = shutdown => None,
            served = &mut self.xds => Some(match served {
                Ok(Err(source)) => RunError::Xds { address: self.xds_address, source },
                _ => RunError::Stopped { server: "xDS server" },
            }),
            _ = &mut self.monitoring => Some(RunError::Stopped { server: "monitoring server" }),
        };
        match failed {
            None => self.stop().await,
            Some(error) => {
                self.stop().await?;
                Err(error)
            }
        }
    }

    /// Stops accepting connections, ends every xDS stream and waits (a few seconds at most)
    /// for the servers to finish.
    pub async fn stop(mut self) -> Result<(), RunError> {
        self.stop.send_replace(true);
        let mut result = Ok(());
        if !self.xds.is_finished() {
            match timeout(STOP_GRACE, &mut self.xds).await {
                Ok(Ok(Err(source))) => {
                    result = Err(RunError::Xds {
                        address: self.xds_address,
                        source,
                    });
                }
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!("xDS connections did not close in time; dropping them");
                    self.xds.abort();
                }
            }
        }
        if !self.monitoring.is_finished()
            && timeout(STOP_GRACE, &mut self.monitoring).await.is_err()
        {
            self.monitoring.abort();
        }
        self.announcer.abort();
        tracing::info!("control plane stopped");
        result
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.xds.abort();
        self.monitoring.abort();
        self.announcer.abort();
    }
}

async fn bind(server: &'static str, address: SocketAddr) -> Result<TcpListener, StartError> {
    listen(address).map_err(|source| StartError::Listen {
        server,
        address,
        source,
    })
}

/// A listener on `address` with a backlog of [`LISTEN_BACKLOG`].
fn listen(address: SocketAddr) -> io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As `TcpListener::bind` does: a restarted control plane rebinds its ports at once.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

#[cfg(test)]
mod tests;
