//! The bootstrap file: who the proxy is, what it serves before the control plane answers, and
//! where the control plane is.
//!
//! The file is Envoy's own `Bootstrap` (YAML or JSON), so a stock Envoy reads it too. mesh-proxy
//! reads: `node`; `static_resources.listeners` and `.clusters`, compiled as xDS resources are
//! into the initial [`Snapshot`]; `dynamic_resources.ads_config` (`api_type` `GRPC` or
//! `DELTA_GRPC`, one `envoy_grpc` service naming a static `STATIC`, `STRICT_DNS` or
//! `LOGICAL_DNS` cluster) with `lds_config` and `cds_config` both `ads: {}`; and
//! `admin.address`; and `static_resources.secrets` (`tls_certificate` and `validation_context`,
//! checked at load), for the static clusters and listeners that name them (see
//! [`inline_static_secrets`](crate::tls::inline_static_secrets)) and, kept in the snapshot, for
//! the clusters and listeners that come over xDS and name them without `sds_config`, as in
//! Envoy. It refuses a `google_grpc` service, other config sources, and an ADS cluster whose
//! TLS waits for secrets over SDS (they would come over the stream it carries). Everything else (stats, tracing, runtime, overload
//! manager, watchdogs…) is ignored.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use envoy_types::pb::envoy::config::{
    bootstrap::v3::Bootstrap as PbBootstrap,
    cluster::v3::Cluster,
    core::v3::{
        ApiVersion, ConfigSource, Node, address, api_config_source::ApiType,
        config_source::ConfigSourceSpecifier, grpc_service::TargetSpecifier,
        socket_address::PortSpecifier,
    },
};
use mesh_common::path::FieldPath;
use mesh_xds::json::{self, JsonError};

use crate::{
    config::{
        ClusterConfig, Discovery, DnsAnswers, Snapshot, apply_clusters, apply_listeners,
        compile_cluster,
    },
    config_error::{ConfigError, FieldError},
    tls::{StaticSecrets, inline_listener_secrets, inline_static_secrets},
};

/// A loaded and validated bootstrap.
#[derive(Clone, Debug)]
pub struct Bootstrap {
    /// `node`: the identity sent to the control plane.
    pub node: Node,
    /// The static listeners and clusters, compiled: the proxy's first configuration.
    pub static_snapshot: Snapshot,
    /// Where ADS is, if the file configures it.
    pub ads: Option<AdsConfig>,
    /// `admin.address`, if set.
    pub admin: Option<SocketAddr>,
    /// The file as read, for `config_dump`.
    pub raw: PbBootstrap,
    /// The static clusters with the static secrets they name inlined, as compiled.
    static_clusters: Vec<Cluster>,
}

/// The aggregated discovery service the bootstrap points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdsConfig {
    /// The static cluster that `envoy_grpc.cluster_name` names.
    pub cluster: String,
    /// Its endpoints as `(host, port)`: IP addresses for a `STATIC` cluster, hostnames (resolved
    /// on each connection attempt) for a DNS cluster. Tried in order.
    pub targets: Vec<(String, u16)>,
    /// The cluster's `connect_timeout`.
    pub connect_timeout: Duration,
    /// `api_type: DELTA_GRPC`.
    pub delta: bool,
}

/// Why a bootstrap file was refused. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The file could not be read.
    #[error("cannot read bootstrap {path}: {source}")]
    Read {
        path: DisplayPath,
        source: std::io::Error,
    },
    /// The file is not a valid Envoy `Bootstrap`.
    #[error("bootstrap {path}: {source}")]
    Parse {
        path: DisplayPath,
        source: Box<JsonError>,
    },
    /// A field mesh-proxy cannot honour.
    #[error("bootstrap {path}: {field}: {reason}")]
    Invalid {
        path: DisplayPath,
        field: FieldPath,
        reason: String,
    },
    /// A static listener or cluster does not compile.
    #[error("bootstrap {path}: {field}: {source}")]
    Resource {
        path: DisplayPath,
        field: FieldPath,
        source: Box<ConfigError>,
    },
}

/// A file path as it appears in error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayPath(pub PathBuf);

impl fmt::Display for DisplayPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display().fmt(f)
    }
}

// === impl Bootstrap ===

impl Bootstrap {
    /// Reads and validates the bootstrap file at `path`: JSON when it ends in `.json`, YAML
    /// otherwise. Static DNS clusters have no endpoints until [`resolve_dns`](Self::resolve_dns).
    pub fn load(path: &Path) -> Result<Self, BootstrapError> {
        let text = std::fs::read_to_string(path).map_err(|source| BootstrapError::Read {
            path: DisplayPath(path.to_owned()),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Validates bootstrap `text`; `path` only names it in errors and picks the format.
    pub fn parse(text: &str, path: &Path) -> Result<Self, BootstrapError> {
        let display = || DisplayPath(path.to_owned());
        let parsed = if path.extension().is_some_and(|e| e == "json") {
            serde_json::from_str(text)
                .map_err(|e| JsonError::Invalid {
                    message: "envoy.config.bootstrap.v3.Bootstrap".to_owned(),
                    path: String::new(),
                    reason: format!("invalid JSON: {e}"),
                })
                .and_then(|value| json::from_json::<PbBootstrap>(&value))
        } else {
            json::from_yaml::<PbBootstrap>(text)
        };
        let raw = parsed.map_err(|source| BootstrapError::Parse {
            path: display(),
            source: Box::new(source),
        })?;
        let invalid = |field: FieldPath, reason: &str| BootstrapError::Invalid {
            path: display(),
            field,
            reason: reason.to_owned(),
        };
        let mut statics = raw.static_resources.clone().unwrap_or_default();
        let static_path = FieldPath::root().field("static_resources");
        let field_error = |e: FieldError| invalid(e.path, &e.reason);
        let secrets = StaticSecrets::compile(&statics.secrets, &static_path.field("secrets"))
            .map_err(field_error)?;
        for (i, cluster) in statics.clusters.iter_mut().enumerate() {
            let path = static_path.field("clusters").index(i);
            inline_static_secrets(cluster, &secrets, &path).map_err(field_error)?;
        }
        for (i, listener) in statics.listeners.iter_mut().enumerate() {
            let path = static_path.field("listeners").index(i);
            inline_listener_secrets(listener, &secrets, &path).map_err(field_error)?;
        }
        let mut snapshot = Snapshot {
            static_secrets: Arc::new(secrets),
            ..Snapshot::default()
        };
        // Clusters first, as Envoy loads them: an inline route_config is checked against them.
        for (i, cluster) in statics.clusters.iter().enumerate() {
            apply_clusters(
                &mut snapshot,
                std::slice::from_ref(cluster),
                &[],
                &DnsAnswers::default(),
            )
            .map_err(|source| BootstrapError::Resource {
                path: display(),
                field: static_path.field("clusters").index(i),
                source: Box::new(source),
            })?;
        }
        for (i, listener) in statics.listeners.iter().enumerate() {
            apply_listeners(&mut snapshot, std::slice::from_ref(listener), &[]).map_err(
                |source| BootstrapError::Resource {
                    path: display(),
                    field: static_path.field("listeners").index(i),
                    source: Box::new(source),
                },
            )?;
        }
        let ads =
            ads_config(&raw, &statics.clusters, &snapshot).map_err(|(f, r)| invalid(f, &r))?;
        let node = raw.node.clone().unwrap_or_default();
        if ads.is_some() && node.id.is_empty() {
            return Err(invalid(
                FieldPath::root().field("node").field("id"),
                "is required when dynamic_resources.ads_config is set",
            ));
        }
        let admin = admin_address(&raw).map_err(|(f, r)| invalid(f, &r))?;
        Ok(Self {
            node,
            static_snapshot: snapshot,
            ads,
            admin,
            raw,
            static_clusters: statics.clusters,
        })
    }

    /// Resolves the hostnames of the static DNS clusters and gives them their endpoints.
    pub async fn resolve_dns(&mut self) {
        let clusters = &self.static_clusters;
        let answers = DnsAnswers::resolve(clusters).await;
        // These clusters compiled in `parse`, so applying them again cannot fail.
        if let Err(error) = apply_clusters(&mut self.static_snapshot, clusters, &[], &answers) {
            tracing::warn!(%error, "static clusters no longer compile");
        }
    }
}

type Refusal = (FieldPath, String);

fn ads_config(
    raw: &PbBootstrap,
    clusters: &[Cluster],
    snapshot: &Snapshot,
) -> Result<Option<AdsConfig>, Refusal> {
    let root = FieldPath::root().field("dynamic_resources");
    let Some(dynamic) = &raw.dynamic_resources else {
        return Ok(None);
    };
    let refuse = |field: FieldPath, reason: &str| Err((field, reason.to_owned()));
    let Some(ads) = &dynamic.ads_config else {
        if dynamic.lds_config.is_some() || dynamic.cds_config.is_some() {
            return refuse(
                root.field("ads_config"),
                "is required: mesh-proxy fetches listeners and clusters over ADS only",
            );
        }
        return Ok(None);
    };
    for (field, source) in [
        ("lds_config", &dynamic.lds_config),
        ("cds_config", &dynamic.cds_config),
    ] {
        if !is_ads(source.as_ref()) {
            return refuse(root.field(field), "must be `ads: {}`");
        }
    }
    let path = root.field("ads_config");
    let delta = match ApiType::try_from(ads.api_type) {
        Ok(ApiType::Grpc) => false,
        Ok(ApiType::DeltaGrpc) => true,
        _ => return refuse(path.field("api_type"), "must be GRPC or DELTA_GRPC"),
    };
    if ![ApiVersion::Auto as i32, ApiVersion::V3 as i32].contains(&ads.transport_api_version) {
        return refuse(path.field("transport_api_version"), "must be V3");
    }
    let [service] = ads.grpc_services.as_slice() else {
        return refuse(path.field("grpc_services"), "must hold exactly one service");
    };
    let service_path = path.field("grpc_services").index(0);
    let cluster_name = match &service.target_specifier {
        Some(TargetSpecifier::EnvoyGrpc(envoy)) => envoy.cluster_name.clone(),
        Some(TargetSpecifier::GoogleGrpc(_)) => {
            return refuse(
                service_path.field("google_grpc"),
                "not supported by mesh-proxy",
            );
        }
        None => return refuse(service_path.field("envoy_grpc"), "is required"),
    };
    let name_path = service_path.field("envoy_grpc").field("cluster_name");
    let Some(cluster) = clusters.iter().find(|c| c.name == cluster_name) else {
        return refuse(
            name_path,
            &format!("{cluster_name:?} is not a static cluster"),
        );
    };
    if let Some(warming) = snapshot.warming_clusters.get(&cluster_name) {
        let names: Vec<&String> = warming.missing.iter().collect();
        return refuse(
            name_path,
            &format!(
                "cluster {cluster_name:?} waits for secrets over SDS ({names:?}), which would \
                 come over the ADS stream it carries: give it static secrets"
            ),
        );
    }
    // The cluster compiled with the static resources already.
    let config: ClusterConfig =
        compile_cluster(cluster).map_err(|e| (name_path.clone(), e.to_string()))?;
    let targets = match &config.discovery {
        Discovery::Static(set) => set
            .endpoints()
            .iter()
            .map(|e| (e.address.ip().to_string(), e.address.port()))
            .collect(),
        Discovery::StrictDns { hosts } => hosts.clone(),
        Discovery::LogicalDns { host, port } => vec![(host.clone(), *port)],
        Discovery::Eds { .. } | Discovery::OriginalDst => {
            return refuse(
                name_path,
                &format!("cluster {cluster_name:?} must be STATIC, STRICT_DNS or LOGICAL_DNS"),
            );
        }
    };
    if Vec::is_empty(&targets) {
        return refuse(
            name_path,
            &format!("cluster {cluster_name:?} has no endpoints"),
        );
    }
    Ok(Some(AdsConfig {
        cluster: cluster_name,
        targets,
        connect_timeout: config.connect_timeout,
        delta,
    }))
}

fn is_ads(source: Option<&ConfigSource>) -> bool {
    matches!(
        source.and_then(|s| s.config_source_specifier.as_ref()),
        Some(ConfigSourceSpecifier::Ads(_))
    )
}

fn admin_address(raw: &PbBootstrap) -> Result<Option<SocketAddr>, Refusal> {
    let path = FieldPath::root().field("admin").field("address");
    let Some(address) = raw.admin.as_ref().and_then(|a| a.address.as_ref()) else {
        return Ok(None);
    };
    let Some(address::Address::SocketAddress(socket)) = &address.address else {
        return Err((path, "must be a socket_address".to_owned()));
    };
    let path = path.field("socket_address");
    let ip = socket.address.parse().map_err(|_| {
        (
            path.field("address"),
            format!("{:?} is not an IP address", socket.address),
        )
    })?;
    let port = match socket.port_specifier {
        Some(PortSpecifier::PortValue(port)) => u16::try_from(port)
            .map_err(|_| (path.field("port_value"), format!("{port} is not a port")))?,
        _ => return Err((path.field("port_value"), "is required".to_owned())),
    };
    Ok(Some(SocketAddr::new(ip, port)))
}

#[cfg(test)]
mod mutation_tests;
