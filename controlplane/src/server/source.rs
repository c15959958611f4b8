//! Where the control plane reads the mesh from: config directories or a Kubernetes cluster.
//! Both stores publish the same snapshots, so nothing past [`Store`] knows which one it is.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use kube::{
    Client,
    config::{KubeConfigOptions, Kubeconfig, KubeconfigError},
};
use mesh_common::load::LoadError;
use tokio::sync::watch;

use super::control_plane::StartError;
use crate::{
    mesh_config::MeshConfig,
    model::Snapshot,
    store::{FileStore, FileStoreConfig, kube::KubeStore},
};

/// Where the mesh's objects come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Directories of YAML and JSON config, read with their subdirectories and watched.
    ConfigDirs(Vec<PathBuf>),
    /// The Kubernetes cluster a kubeconfig or the pod's service account names.
    Kubernetes(KubeSource),
}

/// How to reach the cluster. With neither field set, the kubeconfig `KUBECONFIG` names (or
/// `~/.kube/config`) is used when there is one, else the service account of the pod the control
/// plane runs in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeSource {
    /// This kubeconfig file, and no other.
    pub kubeconfig: Option<PathBuf>,
    /// This context of the kubeconfig rather than its current one.
    pub context: Option<String>,
}

/// A running store of either kind.
#[derive(Debug)]
pub(super) enum Store {
    File(FileStore),
    Kube(KubeStore),
}

// === impl Source ===

impl Source {
    /// What the startup log says the control plane serves from.
    pub fn describe(&self) -> String {
        match self {
            Source::ConfigDirs(dirs) => {
                let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                format!("config directories {}", dirs.join(", "))
            }
            Source::Kubernetes(kube) => match (&kube.kubeconfig, &kube.context) {
                (Some(path), Some(context)) => {
                    format!("Kubernetes ({}, context {context})", path.display())
                }
                (Some(path), None) => format!("Kubernetes ({})", path.display()),
                (None, Some(context)) => format!("Kubernetes (context {context})"),
                (None, None) => "Kubernetes".to_string(),
            },
        }
    }
}

// === impl Store ===

impl Store {
    /// Starts the store `source` names. A file store has read its directories when this
    /// returns; a cluster store has only started listing (see [`Store::listed`]). Either lets
    /// a burst of changes settle for `debounce` before it builds a snapshot.
    pub(super) async fn start(
        config: &super::control_plane::Config,
        mesh: MeshConfig,
    ) -> Result<Store, StartError> {
        let (debounce, debounce_endpoints) = (config.debounce, config.debounce_endpoints);
        match &config.source {
            Source::ConfigDirs(dirs) => {
                check_dirs(dirs)?;
                let config = FileStoreConfig {
                    debounce,
                    debounce_endpoints,
                    ..FileStoreConfig::new(dirs.clone())
                };
                Ok(Store::File(FileStore::start(config, mesh)?))
            }
            Source::Kubernetes(kube) => {
                let client = client(kube).await?;
                Ok(Store::Kube(KubeStore::start_with(
                    client,
                    mesh,
                    debounce,
                    debounce_endpoints,
                )))
            }
        }
    }

    pub(super) fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        match self {
            Store::File(store) => store.snapshots(),
            Store::Kube(store) => store.snapshots(),
        }
    }

    pub(super) fn watch_errors(&self) -> watch::Receiver<Arc<[LoadError]>> {
        match self {
            Store::File(store) => store.watch_errors(),
            Store::Kube(store) => store.watch_errors(),
        }
    }

    /// How many config files the store has read, when it reads files.
    pub(super) fn files_parsed(&self) -> Option<u64> {
        match self {
            Store::File(store) => Some(store.files_parsed()),
            Store::Kube(_) => None,
        }
    }

    /// True once the store holds everything its source has: at once for directories, after
    /// every kind has been listed for a cluster.
    pub(super) fn listed(&self) -> watch::Receiver<bool> {
        match self {
            // The sender may go: a receiver still reads the last value, which never changes.
            Store::File(_) => watch::channel(true).1,
            Store::Kube(store) => store.listed(),
        }
    }
}

fn check_dirs(dirs: &[PathBuf]) -> Result<(), StartError> {
    if dirs.is_empty() {
        return Err(StartError::NoConfigDir);
    }
    for dir in dirs {
        let metadata = std::fs::metadata(dir).map_err(|source| StartError::ConfigDir {
            dir: dir.clone(),
            source,
        })?;
        if !metadata.is_dir() {
            return Err(StartError::NotADirectory(dir.clone()));
        }
    }
    Ok(())
}

/// A client for the cluster `source` names, as kubectl would find it.
async fn client(source: &KubeSource) -> Result<Client, StartError> {
    let options = KubeConfigOptions {
        context: source.context.clone(),
        ..KubeConfigOptions::default()
    };
    let config = match &source.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path).map_err(|error| StartError::Kube {
                reason: match error {
                    KubeconfigError::ReadConfig(io, _) => {
                        format!("cannot read the kubeconfig {}: {io}", path.display())
                    }
                    other => format!("kubeconfig {}: {other}", path.display()),
                },
            })?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                .await
                .map_err(|error| StartError::Kube {
                    reason: format!("kubeconfig {}{}: {error}", path.display(), context(source)),
                })?
        }
        None => match kube::Config::from_kubeconfig(&options).await {
            Ok(config) => config,
            // A context names a kubeconfig's entry: a pod's service account has none.
            Err(error) if source.context.is_some() => {
                return Err(StartError::Kube {
                    reason: format!("kubeconfig {}{}: {error}", default_path(), context(source)),
                });
            }
            Err(error) => kube::Config::incluster().map_err(|in_cluster| StartError::Kube {
                reason: format!(
                    "no cluster config found (name one with --kubeconfig, or serve from files \
                     with --config-dir): kubeconfig {}: {error}; in-cluster: {in_cluster}",
                    default_path()
                ),
            })?,
        },
    };
    Client::try_from(config).map_err(|error| StartError::Kube {
        reason: format!("cannot build a client for {}: {error}", source_name(source)),
    })
}

fn context(source: &KubeSource) -> String {
    match &source.context {
        Some(context) => format!(", context {context:?}"),
        None => String::new(),
    }
}

fn source_name(source: &KubeSource) -> String {
    match &source.kubeconfig {
        Some(path) => format!("the kubeconfig {}", path.display()),
        None => "the cluster".to_string(),
    }
}

/// The kubeconfig kubectl reads when none is named, for error messages: `KUBECONFIG` (which may
/// list several files), else `~/.kube/config`.
fn default_path() -> String {
    if let Some(paths) = std::env::var_os("KUBECONFIG").filter(|p| !p.is_empty()) {
        return format!("{} (KUBECONFIG)", Path::new(&paths).display());
    }
    match std::env::var_os("HOME") {
        Some(home) => Path::new(&home).join(".kube/config").display().to_string(),
        None => "~/.kube/config".to_string(),
    }
}
