//! What the control plane or the port number already says about a connection's protocol.

/// Well-known ports of protocols where sniffing can only cost time: server-first protocols
/// (SMTP, MySQL), whose client waits for the server's greeting and would stall detection until
/// its timeout, and binary protocols that are never HTTP or TLS in the clear (PostgreSQL, Redis,
/// memcached, MongoDB). Connections to these ports are opaque unless a hint says otherwise.
pub const OPAQUE_PORTS: &[u16] = &[25, 587, 3306, 5432, 6379, 11211, 27017];

/// The protocol a service declares for a port, as Istio reads it: the port's `appProtocol`, or
/// else the port name's prefix (`http-web` → `http`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProtocolHint {
    /// Nothing declared: sniff the first bytes.
    #[default]
    Auto,
    /// `http`, `grpc-web`, `kubernetes.io/ws`: HTTP/1.x without sniffing.
    Http1,
    /// `http2`, `grpc`, `kubernetes.io/h2c`: HTTP/2 with prior knowledge without sniffing.
    Http2,
    /// `tls`, `https`, `kubernetes.io/wss`: only the ClientHello is read, for its SNI and ALPN.
    Tls,
    /// `tcp`, `mysql`, `mongo`, `redis` and the like: bytes, at once.
    Opaque,
}

// === impl ProtocolHint ===

impl ProtocolHint {
    /// The hint of a Kubernetes `appProtocol` value or an Istio protocol name, case-insensitive.
    /// Unknown names leave detection on, as Istio does.
    pub fn from_protocol(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "http" | "http1" | "grpc-web" | "kubernetes.io/ws" => Self::Http1,
            "http2" | "grpc" | "h2c" | "kubernetes.io/h2c" => Self::Http2,
            "tls" | "https" | "kubernetes.io/wss" => Self::Tls,
            "tcp" | "mysql" | "mongo" | "redis" => Self::Opaque,
            _ => Self::Auto,
        }
    }

    /// The hint of a port name `<protocol>[-<suffix>]` (`http-web`, `grpc-web-ui`, `tcp`).
    pub fn from_port_name(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        // The one protocol name with a dash in it.
        if lower == "grpc-web" || lower.starts_with("grpc-web-") {
            return Self::Http1;
        }
        Self::from_protocol(lower.split('-').next().unwrap_or_default())
    }

    /// The hint for a service port: `appProtocol` wins over the port name, as in Istio.
    pub fn for_port(app_protocol: Option<&str>, port_name: Option<&str>) -> Self {
        match app_protocol.map(Self::from_protocol) {
            Some(hint) if hint != Self::Auto => hint,
            _ => port_name.map_or(Self::Auto, Self::from_port_name),
        }
    }
}
