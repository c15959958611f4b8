//! The bootstrap a proxy starts from: who it is (its Envoy `Node`), where its admin listens,
//! and how it reaches the control plane. Everything else arrives over ADS.
//!
//! The node id follows Istio's format, `<sidecar|router>~<ip>~<pod>.<namespace>~<namespace>.svc.<domain>`,
//! and the metadata keys are those of [`node_metadata`]: the control plane reads exactly these
//! to decide what a proxy gets. The same bootstrap drives our proxy and a stock Envoy.

use std::{collections::BTreeMap, fmt, net::SocketAddr};

use envoy_types::pb::{
    envoy::{
        config::{
            bootstrap::v3::{
                Admin, Bootstrap,
                bootstrap::{DynamicResources, StaticResources},
            },
            cluster::v3::{
                Cluster,
                cluster::{ClusterDiscoveryType, DiscoveryType},
            },
            core::v3::{
                AggregatedConfigSource, ApiConfigSource, ApiVersion, ConfigSource, GrpcService,
                Http2ProtocolOptions, Node, SocketAddress, address,
                api_config_source::ApiType,
                config_source::ConfigSourceSpecifier,
                grpc_service::{EnvoyGrpc, TargetSpecifier},
                socket_address::PortSpecifier,
            },
            endpoint::v3::{
                ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
            },
        },
        extensions::upstreams::http::v3::{
            HttpProtocolOptions,
            http_protocol_options::{
                ExplicitHttpConfig, UpstreamProtocolOptions, explicit_http_config::ProtocolConfig,
            },
        },
    },
    google::protobuf::{Any, Duration, Struct, Value, value::Kind},
};
use mesh_common::well_known::node_metadata;
use prost::{Message, Name};

use crate::json::{JsonError, to_json};

/// The name of the static cluster that points at the control plane.
pub const XDS_CLUSTER: &str = "xds-grpc";

/// What a proxy does, as the first part of its node id says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    /// Next to one workload, capturing its traffic.
    Sidecar,
    /// A standalone gateway.
    Router,
}

/// Everything the control plane needs to know about a proxy to configure it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyIdentity {
    pub kind: ProxyKind,
    /// The workload's address, the one in the node id.
    pub ip: String,
    /// The pod name (`reviews-v1`).
    pub pod: String,
    pub namespace: String,
    pub service_account: String,
    pub labels: BTreeMap<String, String>,
    /// The workload the pod belongs to (`reviews-v1`, a Deployment's name in Kubernetes).
    pub workload_name: String,
    /// Empty when the mesh has no id; then the key is left out.
    pub mesh_id: String,
    /// The cluster's DNS domain, `cluster.local` by default.
    pub cluster_domain: String,
}

// === impl ProxyKind ===

impl fmt::Display for ProxyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProxyKind::Sidecar => "sidecar",
            ProxyKind::Router => "router",
        })
    }
}

// === impl ProxyIdentity ===

impl ProxyIdentity {
    /// The node id: `sidecar~198.18.0.5~reviews-v1.default~default.svc.cluster.local`.
    pub fn node_id(&self) -> String {
        format!(
            "{}~{}~{}.{}~{}.svc.{}",
            self.kind, self.ip, self.pod, self.namespace, self.namespace, self.cluster_domain
        )
    }

    /// The node cluster: the workload's service-like name, `<workload>.<namespace>`.
    pub fn node_cluster(&self) -> String {
        format!("{}.{}", self.workload_name, self.namespace)
    }
}

/// The Envoy node of a proxy: its id, cluster and the metadata the control plane reads.
pub fn node(identity: &ProxyIdentity) -> Node {
    let mut fields = BTreeMap::new();
    let mut put = |key: &str, value: Kind| {
        fields.insert(key.to_string(), Value { kind: Some(value) });
    };
    let string = |s: &str| Kind::StringValue(s.to_string());
    put(node_metadata::NAMESPACE, string(&identity.namespace));
    put(
        node_metadata::SERVICE_ACCOUNT,
        string(&identity.service_account),
    );
    let labels = identity
        .labels
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                Value {
                    kind: Some(string(v)),
                },
            )
        })
        .collect();
    put(
        node_metadata::LABELS,
        Kind::StructValue(Struct { fields: labels }),
    );
    put(
        node_metadata::WORKLOAD_NAME,
        string(&identity.workload_name),
    );
    put(node_metadata::INSTANCE_IPS, string(&identity.ip));
    if !identity.mesh_id.is_empty() {
        put(node_metadata::MESH_ID, string(&identity.mesh_id));
    }
    put(
        node_metadata::PROXY_VERSION,
        string(env!("CARGO_PKG_VERSION")),
    );
    Node {
        id: identity.node_id(),
        cluster: identity.node_cluster(),
        metadata: Some(Struct {
            fields: fields.into_iter().collect(),
        }),
        ..Default::default()
    }
}

/// The bootstrap of a proxy that gets everything over delta ADS from the control plane at
/// `xds`, with its admin API on `admin`.
pub fn bootstrap(identity: &ProxyIdentity, xds: SocketAddr, admin: SocketAddr) -> Bootstrap {
    let over_ads = || ConfigSource {
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        resource_api_version: ApiVersion::V3 as i32,
        ..Default::default()
    };
    Bootstrap {
        node: Some(node(identity)),
        admin: Some(Admin {
            address: Some(socket_address(admin)),
            ..Default::default()
        }),
        static_resources: Some(StaticResources {
            clusters: vec![xds_cluster(xds)],
            ..Default::default()
        }),
        dynamic_resources: Some(DynamicResources {
            ads_config: Some(ApiConfigSource {
                api_type: ApiType::DeltaGrpc as i32,
                transport_api_version: ApiVersion::V3 as i32,
                grpc_services: vec![GrpcService {
                    target_specifier: Some(TargetSpecifier::EnvoyGrpc(EnvoyGrpc {
                        cluster_name: XDS_CLUSTER.to_string(),
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            lds_config: Some(over_ads()),
            cds_config: Some(over_ads()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The bootstrap as YAML, in Envoy's JSON mapping (proto field names, defaults left out).
pub fn to_yaml(bootstrap: &Bootstrap) -> Result<String, JsonError> {
    let json = to_json(bootstrap)?;
    // A JSON value always serializes; the error type is the serializer's only.
    serde_saphyr::to_string(&json).map_err(|e| JsonError::Print {
        message: Bootstrap::full_name(),
        reason: e.to_string(),
    })
}

fn xds_cluster(xds: SocketAddr) -> Cluster {
    // gRPC needs HTTP/2 to the control plane; Envoy defaults upstreams to HTTP/1.1.
    let http2 = HttpProtocolOptions {
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(
                    Http2ProtocolOptions::default(),
                )),
            },
        )),
        ..Default::default()
    };
    let options = Any {
        type_url: HttpProtocolOptions::type_url(),
        value: http2.encode_to_vec(),
    };
    Cluster {
        name: XDS_CLUSTER.to_string(),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Static as i32)),
        connect_timeout: Some(Duration {
            seconds: 1,
            nanos: 0,
        }),
        typed_extension_protocol_options: [(HttpProtocolOptions::full_name(), options)]
            .into_iter()
            .collect(),
        load_assignment: Some(ClusterLoadAssignment {
            cluster_name: XDS_CLUSTER.to_string(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: vec![LbEndpoint {
                    host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                        address: Some(socket_address(xds)),
                        ..Default::default()
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn socket_address(address: SocketAddr) -> envoy_types::pb::envoy::config::core::v3::Address {
    envoy_types::pb::envoy::config::core::v3::Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: address.ip().to_string(),
            port_specifier: Some(PortSpecifier::PortValue(u32::from(address.port()))),
            ..Default::default()
        })),
    }
}

#[cfg(test)]
mod tests;
