//! The mesh-wide settings the model is built with, written as Istio writes its `MeshConfig`, so
//! that an Istio mesh config's fields keep their names and meaning here.
//! <https://istio.io/latest/docs/reference/config/istio.mesh.v1alpha1/>

mod tracing;

use mesh_common::well_known::DEFAULT_TRUST_DOMAIN;
use serde::{Deserialize, Serialize};

pub use self::tracing::{
    DEFAULT_SAMPLING, DefaultProviders, ExtensionProvider, GrpcSettings, OpenTelemetryProvider,
    ProxyConfig, ProxyTracing,
};

/// The Kubernetes cluster domain when none is configured.
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";

/// Mesh-wide settings. Every field has Istio's default, so `{}` is a valid mesh config.
///
/// Fields of Istio's `MeshConfig` that mesh.rs does not read are accepted and ignored: a mesh
/// config is shared with tools that read more of it than the control plane does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MeshConfig {
    /// The SPIFFE trust domain of the mesh's workload identities.
    pub trust_domain: String,
    /// The Kubernetes cluster domain, the suffix of service hostnames
    /// (`<name>.<namespace>.svc.<domain>`). Istio reads it from its `DOMAIN_SUFFIX` setting rather
    /// than from the mesh config; one file holds every mesh-wide setting here.
    pub cluster_domain: String,
    /// What a sidecar does with traffic to a host that is not in the registry.
    pub outbound_traffic_policy: OutboundTrafficPolicy,
    /// `exportTo` of Services and ServiceEntries that do not set it.
    pub default_service_export_to: Vec<String>,
    /// `exportTo` of VirtualServices that do not set it.
    pub default_virtual_service_export_to: Vec<String>,
    /// `exportTo` of DestinationRules that do not set it.
    pub default_destination_rule_export_to: Vec<String>,
    /// Whether outbound HTTP/1.1 connections to HTTP ports are upgraded to HTTP/2; a
    /// DestinationRule's `connectionPool.http.h2UpgradePolicy` overrides it.
    pub h2_upgrade_policy: H2UpgradePolicy,
    /// The namespace whose Sidecar and DestinationRule resources apply mesh-wide, as a
    /// fallback after the proxy's and the service's own namespaces.
    pub root_namespace: String,
    /// Whether proxies trace requests at all (with a provider `defaultProviders.tracing` names).
    pub enable_tracing: bool,
    /// Integrations proxies may use: tracers, access loggers, external authorizers.
    pub extension_providers: Vec<ExtensionProvider>,
    /// The providers used where nothing more specific names one.
    pub default_providers: DefaultProviders,
    /// The proxy settings every proxy starts from (`ProxyConfig`); tracing sampling is read.
    pub default_config: ProxyConfig,
}

/// Istio's root namespace when none is configured.
pub const DEFAULT_ROOT_NAMESPACE: &str = "istio-system";

/// Istio's mesh-wide `h2UpgradePolicy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum H2UpgradePolicy {
    /// Speak to the destination in the protocol of its port.
    #[default]
    DoNotUpgrade,
    /// Speak HTTP/2 to HTTP ports.
    Upgrade,
}

/// `outboundTrafficPolicy`, as Istio nests it: `{mode: REGISTRY_ONLY}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutboundTrafficPolicy {
    pub mode: OutboundTrafficMode,
}

/// Where traffic to an unknown host goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OutboundTrafficMode {
    /// Passed through to its original destination: meshing a workload breaks none of its
    /// calls to the outside.
    #[default]
    AllowAny,
    /// Refused: only hosts of Services and ServiceEntries can be reached.
    RegistryOnly,
}

/// Why a mesh config file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MeshConfigError {
    #[error("cannot read mesh config {}: {source}", path.display())]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mesh config {}: {source}", path.display())]
    Parse {
        path: std::path::PathBuf,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
}

// === impl MeshConfig ===

impl MeshConfig {
    /// Reads a mesh config from YAML (or JSON), as Istio's `mesh` ConfigMap key holds it.
    pub fn from_yaml(text: &str) -> Result<MeshConfig, Box<serde_saphyr::Error>> {
        // An empty file is an empty config, as in Istio.
        if text.trim().is_empty() {
            return Ok(MeshConfig::default());
        }
        serde_saphyr::from_str(text).map_err(Box::new)
    }

    /// Reads the mesh config file at `path`.
    pub fn read(path: &std::path::Path) -> Result<MeshConfig, MeshConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| MeshConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml(&text).map_err(|source| MeshConfigError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl Default for MeshConfig {
    fn default() -> Self {
        let everywhere = vec!["*".to_string()];
        Self {
            trust_domain: DEFAULT_TRUST_DOMAIN.to_string(),
            cluster_domain: DEFAULT_CLUSTER_DOMAIN.to_string(),
            outbound_traffic_policy: OutboundTrafficPolicy::default(),
            default_service_export_to: everywhere.clone(),
            default_virtual_service_export_to: everywhere.clone(),
            default_destination_rule_export_to: everywhere,
            h2_upgrade_policy: H2UpgradePolicy::DoNotUpgrade,
            root_namespace: DEFAULT_ROOT_NAMESPACE.to_string(),
            enable_tracing: true,
            extension_providers: Vec::new(),
            default_providers: DefaultProviders::default(),
            default_config: ProxyConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn an_empty_config_has_istios_defaults() {
        let config: MeshConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, MeshConfig::default());
        assert_eq!(config.trust_domain, "cluster.local");
        assert_eq!(config.cluster_domain, "cluster.local");
        assert_eq!(
            config.outbound_traffic_policy.mode,
            OutboundTrafficMode::AllowAny
        );
        assert_eq!(config.default_service_export_to, vec!["*"]);
        assert_eq!(config.h2_upgrade_policy, H2UpgradePolicy::DoNotUpgrade);
        assert!(config.enable_tracing);
        assert_eq!(config.default_providers.tracing, Vec::<String>::new());
        assert_eq!(config.default_config.sampling(), DEFAULT_SAMPLING);
    }

    #[test]
    fn reads_the_tracing_fields_and_keeps_the_rest_as_written() {
        let config = MeshConfig::from_yaml(
            "enableTracing: false
defaultProviders: {tracing: [otel], accessLogging: [stdout]}
defaultConfig: {concurrency: 2, tracing: {sampling: 5, zipkin: {address: z:9411}}}
extensionProviders:
- name: otel
  opentelemetry: {service: otel.obs.svc.cluster.local, port: 4317, grpc: {timeout: 1s}}
- name: stdout
  envoyFileAccessLog: {path: /dev/stdout}
",
        )
        .unwrap();
        assert!(!config.enable_tracing);
        assert_eq!(config.default_providers.tracing, vec!["otel"]);
        assert_eq!(
            config.default_providers.other.keys().collect::<Vec<_>>(),
            ["accessLogging"]
        );
        assert_eq!(config.default_config.sampling(), 5.0);
        assert_eq!(
            config.default_config.other.keys().collect::<Vec<_>>(),
            ["concurrency"]
        );
        let otel = config.extension_providers[0].opentelemetry.clone().unwrap();
        assert_eq!(
            (otel.service.as_str(), otel.port, otel.max_tag_length),
            ("otel.obs.svc.cluster.local", 4317, 0)
        );
        assert_eq!(
            otel.grpc.and_then(|g| g.timeout).map(|t| t.0),
            Some("1s".to_string())
        );
        let stdout = &config.extension_providers[1];
        assert_eq!(
            (
                stdout.opentelemetry.is_none(),
                stdout.other.keys().map(String::as_str).collect::<Vec<_>>()
            ),
            (true, vec!["envoyFileAccessLog"])
        );
    }

    #[test]
    fn reads_yaml_files() {
        let config = MeshConfig::from_yaml(
            "trustDomain: example.org\noutboundTrafficPolicy: {mode: REGISTRY_ONLY}\n",
        )
        .unwrap();
        assert_eq!(config.trust_domain, "example.org");
        assert_eq!(
            config.outbound_traffic_policy.mode,
            OutboundTrafficMode::RegistryOnly
        );
        assert_eq!(MeshConfig::from_yaml("\n").unwrap(), MeshConfig::default());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mesh.yaml");
        std::fs::write(&path, "outboundTrafficPolicy: {mode: SOMETIMES}\n").unwrap();
        let error = MeshConfig::read(&path).unwrap_err().to_string();
        assert!(
            error.starts_with(&format!("mesh config {}: ", path.display())),
            "{error}"
        );
        assert!(error.contains("SOMETIMES"), "{error}");
        let missing = dir.path().join("missing.yaml");
        assert!(
            MeshConfig::read(&missing)
                .unwrap_err()
                .to_string()
                .starts_with(&format!("cannot read mesh config {}: ", missing.display()))
        );
    }

    #[test]
    fn reads_istio_field_names() {
        let config: MeshConfig = serde_json::from_value(serde_json::json!({
            "trustDomain": "example.org",
            "clusterDomain": "corp.internal",
            "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
            "defaultServiceExportTo": ["."],
            "defaultVirtualServiceExportTo": ["istio-system", "."],
            "defaultDestinationRuleExportTo": ["*"],
            "h2UpgradePolicy": "UPGRADE",
            "rootNamespace": "mesh-root",
            "enableTracing": true,
        }))
        .unwrap();
        assert_eq!(
            config,
            MeshConfig {
                trust_domain: "example.org".to_string(),
                cluster_domain: "corp.internal".to_string(),
                outbound_traffic_policy: OutboundTrafficPolicy {
                    mode: OutboundTrafficMode::RegistryOnly,
                },
                default_service_export_to: vec![".".to_string()],
                default_virtual_service_export_to: vec![
                    "istio-system".to_string(),
                    ".".to_string()
                ],
                default_destination_rule_export_to: vec!["*".to_string()],
                h2_upgrade_policy: H2UpgradePolicy::Upgrade,
                root_namespace: "mesh-root".to_string(),
                ..MeshConfig::default()
            }
        );
        assert_eq!(
            serde_json::to_value(&config).unwrap()["outboundTrafficPolicy"],
            serde_json::json!({"mode": "REGISTRY_ONLY"})
        );
    }
}
