//! Names, ports and ids fixed by the design, in one place for every binary.

/// The domain of mesh.rs labels and annotations.
pub const DOMAIN: &str = "mesh.rs";
/// The namespace the control plane runs in.
pub const CONTROL_PLANE_NAMESPACE: &str = "mesh-system";
/// The default SPIFFE trust domain.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

/// Labels and annotations.
pub mod labels {
    /// Namespace label that turns on sidecar injection (`enabled`).
    pub const INJECTION: &str = "mesh-injection";
    /// Pod annotation that overrides the namespace's choice (`"true"`/`"false"`).
    pub const INJECT_ANNOTATION: &str = "sidecar.mesh.rs/inject";
    /// Labels Istio's telemetry and subsets read.
    pub const APP: &str = "app";
    pub const VERSION: &str = "version";
}

/// Ports of the sidecar proxy.
pub mod proxy_ports {
    /// Outbound traffic captured by iptables.
    pub const OUTBOUND_CAPTURE: u16 = 15001;
    /// Inbound traffic captured by iptables.
    pub const INBOUND_CAPTURE: u16 = 15006;
    /// Admin API, bound to localhost only.
    pub const ADMIN: u16 = 15000;
    /// Application metrics merged with the proxy's.
    pub const MERGED_METRICS: u16 = 15020;
    /// Health: `/healthz/ready`.
    pub const HEALTH: u16 = 15021;
    /// The proxy's own Prometheus metrics.
    pub const METRICS: u16 = 15090;
    /// Every port the proxy itself listens on: never captured.
    pub const ALL: &[u16] = &[
        OUTBOUND_CAPTURE,
        INBOUND_CAPTURE,
        ADMIN,
        MERGED_METRICS,
        HEALTH,
        METRICS,
    ];
}

/// Ports of the control plane.
pub mod control_plane_ports {
    /// xDS over plaintext gRPC (local and development use).
    pub const XDS_PLAINTEXT: u16 = 15010;
    /// xDS and the certificate authority over TLS.
    pub const XDS_TLS: u16 = 15012;
    /// Admission webhooks (HTTPS).
    pub const WEBHOOKS: u16 = 15017;
    /// Monitoring and debug endpoints.
    pub const MONITORING: u16 = 15014;
}

/// The user id the proxy runs as; iptables leaves its own traffic uncaptured.
pub const PROXY_UID: u32 = 1337;

/// Keys of Envoy's `node.metadata` that identify a proxy, as Istio names them; the proxy writes
/// them and the control plane reads them.
pub mod node_metadata {
    pub const NAMESPACE: &str = "NAMESPACE";
    pub const SERVICE_ACCOUNT: &str = "SERVICE_ACCOUNT";
    /// A map of the workload's labels.
    pub const LABELS: &str = "LABELS";
    pub const WORKLOAD_NAME: &str = "WORKLOAD_NAME";
    /// The workload's IP addresses, comma-separated.
    pub const INSTANCE_IPS: &str = "INSTANCE_IPS";
    pub const MESH_ID: &str = "MESH_ID";
    pub const PROXY_VERSION: &str = "PROXY_VERSION";
}
