//! The local mesh file (`kind: LocalMesh`): the services, the workloads behind them as
//! processes, and the Istio config to apply at start.
//!
//! Several files make one mesh: their lists are concatenated, and a name defined twice is an
//! error naming both files. Unknown fields are errors with the file and the field path, so that a
//! typo never leaves a setting silently unused.

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use serde::Deserialize;

/// The `apiVersion` of a local mesh file.
pub const API_VERSION: &str = "local.mesh.rs/v1";
/// The `kind` of a local mesh file.
pub const KIND: &str = "LocalMesh";

/// One local mesh file, as written.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LocalMeshFile {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    #[serde(default)]
    pub workloads: Vec<WorkloadSpec>,
    /// Istio config files or directories applied at start, relative to this file.
    #[serde(default)]
    pub config: Vec<PathBuf>,
}

/// A service: a name, its ports and the workloads it selects.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServiceSpec {
    pub name: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub ports: Vec<ServicePortSpec>,
    /// The labels of the workloads behind the service; `app: <name>` when left out.
    #[serde(default)]
    pub selector: Option<BTreeMap<String, String>>,
}

/// A port of a service.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ServicePortSpec {
    /// The port name, which also tells its protocol as in Kubernetes (`http`, `grpc-web`).
    pub name: String,
    pub port: u16,
    /// The workloads' port; the service port when left out.
    #[serde(default)]
    pub target_port: Option<u16>,
}

/// A workload: one process with one sidecar, as a pod of one container would be.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WorkloadSpec {
    /// The pod name, and the workload name the proxy reports.
    pub name: String,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(default = "default_service_account")]
    pub service_account: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The program and its arguments; a program without a `/` is looked up next to meshctl,
    /// then on `PATH`.
    pub command: Vec<String>,
    /// The ports the process listens on.
    #[serde(default)]
    pub ports: Vec<u16>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// The mesh several files describe together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalMesh {
    pub services: Vec<ServiceSpec>,
    pub workloads: Vec<WorkloadSpec>,
    /// Istio config to apply at start, resolved against the file that named it.
    pub config: Vec<PathBuf>,
}

/// Why a local mesh file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not YAML: {reason}", path.display())]
    Yaml { path: PathBuf, reason: String },
    #[error("{}: {}: {reason}", path.display(), if field.is_empty() { "." } else { field.as_str() })]
    Field {
        path: PathBuf,
        /// The field path, like `workloads[0].comand`.
        field: String,
        reason: String,
    },
    #[error("{}: {what} {name} is already defined in {}", path.display(), first.display())]
    Duplicate {
        path: PathBuf,
        what: &'static str,
        name: String,
        first: PathBuf,
    },
}

fn default_namespace() -> String {
    "default".to_string()
}

fn default_service_account() -> String {
    "default".to_string()
}

// === impl ServiceSpec ===

impl ServiceSpec {
    /// The labels a workload must carry to be behind this service.
    pub fn selector(&self) -> BTreeMap<String, String> {
        self.selector
            .clone()
            .unwrap_or_else(|| BTreeMap::from([("app".to_string(), self.name.clone())]))
    }

    /// True when `workload` is one of this service's endpoints.
    pub fn selects(&self, workload: &WorkloadSpec) -> bool {
        workload.namespace == self.namespace
            && self
                .selector()
                .iter()
                .all(|(k, v)| workload.labels.get(k) == Some(v))
    }
}

// === impl LocalMesh ===

impl LocalMesh {
    /// Reads and merges the files, in order.
    pub fn read(paths: &[PathBuf]) -> Result<LocalMesh, SpecError> {
        let mut files = Vec::new();
        for path in paths {
            let text = fs::read_to_string(path).map_err(|source| SpecError::Read {
                path: path.clone(),
                source,
            })?;
            files.push((path.clone(), parse(&text, path)?));
        }
        LocalMesh::merge(files)
    }

    /// Merges parsed files; `config` paths are resolved against their file's directory.
    pub fn merge(files: Vec<(PathBuf, LocalMeshFile)>) -> Result<LocalMesh, SpecError> {
        let mut mesh = LocalMesh::default();
        let mut services: BTreeMap<(String, String), PathBuf> = BTreeMap::new();
        let mut workloads: BTreeMap<String, PathBuf> = BTreeMap::new();
        for (path, file) in files {
            for service in file.services {
                let key = (service.namespace.clone(), service.name.clone());
                if let Some(first) = services.insert(key, path.clone()) {
                    return Err(SpecError::Duplicate {
                        path,
                        what: "service",
                        name: format!("{}/{}", service.namespace, service.name),
                        first,
                    });
                }
                mesh.services.push(service);
            }
            for workload in file.workloads {
                // Workload names are unique across namespaces: they name the network
                // namespace, the log file and the proxy's bootstrap.
                if let Some(first) = workloads.insert(workload.name.clone(), path.clone()) {
                    return Err(SpecError::Duplicate {
                        path,
                        what: "workload",
                        name: workload.name,
                        first,
                    });
                }
                mesh.workloads.push(workload);
            }
            let dir = path.parent().unwrap_or(Path::new(""));
            mesh.config
                .extend(file.config.iter().map(|config| dir.join(config)));
        }
        Ok(mesh)
    }

    /// The namespaces the mesh uses, sorted.
    pub fn namespaces(&self) -> Vec<String> {
        let mut namespaces: Vec<String> = self
            .services
            .iter()
            .map(|s| s.namespace.clone())
            .chain(self.workloads.iter().map(|w| w.namespace.clone()))
            .collect();
        namespaces.sort();
        namespaces.dedup();
        namespaces
    }
}

/// Parses one file's text; `path` names it in errors.
pub fn parse(text: &str, path: &Path) -> Result<LocalMeshFile, SpecError> {
    let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| SpecError::Yaml {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let file: LocalMeshFile = serde_path_to_error::deserialize(&value).map_err(|e| {
        let field = e.path().to_string();
        SpecError::Field {
            path: path.to_path_buf(),
            field: if field == "." { String::new() } else { field },
            reason: e.into_inner().to_string(),
        }
    })?;
    let field = |field: String, reason: String| SpecError::Field {
        path: path.to_path_buf(),
        field,
        reason,
    };
    if file.api_version != API_VERSION {
        return Err(field(
            "apiVersion".to_string(),
            format!("must be {API_VERSION}, not {:?}", file.api_version),
        ));
    }
    if file.kind != KIND {
        return Err(field(
            "kind".to_string(),
            format!("must be {KIND}, not {:?}", file.kind),
        ));
    }
    for (i, service) in file.services.iter().enumerate() {
        check_name(&service.name).map_err(|r| field(format!("services[{i}].name"), r))?;
        check_name(&service.namespace).map_err(|r| field(format!("services[{i}].namespace"), r))?;
        if service.ports.is_empty() {
            return Err(field(
                format!("services[{i}].ports"),
                "a service needs at least one port".to_string(),
            ));
        }
        for (j, port) in service.ports.iter().enumerate() {
            if port.port == 0 || port.target_port == Some(0) {
                return Err(field(
                    format!("services[{i}].ports[{j}]"),
                    "ports are numbers from 1 to 65535".to_string(),
                ));
            }
        }
    }
    for (i, workload) in file.workloads.iter().enumerate() {
        check_name(&workload.name).map_err(|r| field(format!("workloads[{i}].name"), r))?;
        check_name(&workload.namespace)
            .map_err(|r| field(format!("workloads[{i}].namespace"), r))?;
        if workload.command.is_empty() {
            return Err(field(
                format!("workloads[{i}].command"),
                "names no program".to_string(),
            ));
        }
    }
    Ok(file)
}

/// Kubernetes' DNS label rule (RFC 1123), which names of pods, services and namespaces follow.
fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a DNS label (lowercase letters, digits and '-', at most 63)"
        ))
    }
}

#[cfg(test)]
mod tests;
