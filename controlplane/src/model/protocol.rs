//! The protocol of a service port, chosen as Istio's protocol selection chooses it: explicitly
//! (`appProtocol`, a ServiceEntry's `protocol`) or by the port name's prefix (`http-web`), and
//! otherwise left to the proxy to detect.
//! <https://istio.io/latest/docs/ops/configuration/traffic-management/protocol-selection/>

use std::fmt;

use serde::Serialize;

/// A service port's protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
    #[serde(rename = "GRPC-WEB")]
    GrpcWeb,
    Https,
    Tls,
    Tcp,
    Udp,
    Mongo,
    Mysql,
    Redis,
    /// Nothing says: the proxy sniffs the first bytes of each connection.
    Auto,
}

/// Ports of server-first protocols: the client waits for the server to speak, so sniffing the
/// client's first bytes would stall until the detection timeout. Istio treats them as TCP
/// unless told otherwise, and so do we.
const SERVER_FIRST_PORTS: &[(i32, &str)] = &[(25, "SMTP"), (3306, "MySQL")];

// === impl Protocol ===

impl Protocol {
    /// Reads a protocol name as Istio does, ignoring case; `None` for names Istio does not know.
    pub fn parse(name: &str) -> Option<Protocol> {
        let protocol = match name.to_ascii_lowercase().as_str() {
            "http" | "http_proxy" => Protocol::Http,
            "http2" | "h2c" => Protocol::Http2,
            "grpc" => Protocol::Grpc,
            "grpc-web" => Protocol::GrpcWeb,
            "https" => Protocol::Https,
            "tls" => Protocol::Tls,
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            "mongo" => Protocol::Mongo,
            "mysql" => Protocol::Mysql,
            "redis" => Protocol::Redis,
            _ => return None,
        };
        Some(protocol)
    }

    /// The protocol of a Kubernetes Service port: UDP when the port is UDP; otherwise its
    /// `appProtocol` when set, else the prefix of its name before the first `-` (`http-web`,
    /// `grpc-web-ui`), else TCP for a server-first port, else detection.
    pub fn of_kubernetes_port(
        number: i32,
        name: Option<&str>,
        transport: Option<&str>,
        app_protocol: Option<&str>,
    ) -> Protocol {
        if transport == Some("UDP") {
            return Protocol::Udp;
        }
        let label = match app_protocol {
            // Kubernetes' own names, which no port name can hold.
            Some("kubernetes.io/h2c") => return Protocol::Http2,
            Some("kubernetes.io/ws" | "kubernetes.io/wss") => return Protocol::Http,
            Some(app_protocol) => app_protocol,
            None => name.unwrap_or_default(),
        };
        // `grpc-web` holds a `-`: it must be tried before the prefix is cut.
        let lower = label.to_ascii_lowercase();
        if lower == "grpc-web" || lower.starts_with("grpc-web-") {
            return Protocol::GrpcWeb;
        }
        let prefix = label.split('-').next().unwrap_or_default();
        Protocol::parse(prefix).unwrap_or_else(|| {
            if SERVER_FIRST_PORTS.iter().any(|(port, _)| *port == number) {
                Protocol::Tcp
            } else {
                Protocol::Auto
            }
        })
    }

    /// The name as Istio writes it (`HTTP`, `GRPC-WEB`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Http2 => "HTTP2",
            Protocol::Grpc => "GRPC",
            Protocol::GrpcWeb => "GRPC-WEB",
            Protocol::Https => "HTTPS",
            Protocol::Tls => "TLS",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Mongo => "MONGO",
            Protocol::Mysql => "MYSQL",
            Protocol::Redis => "REDIS",
            Protocol::Auto => "AUTO",
        }
    }

    /// True for the protocols the proxy routes per request (HTTP routes apply).
    pub fn is_http(self) -> bool {
        matches!(
            self,
            Protocol::Http | Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb
        )
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Port number, name, transport protocol, appProtocol, and the protocol they select.
    type Case = (
        i32,
        Option<&'static str>,
        Option<&'static str>,
        Option<&'static str>,
        Protocol,
    );

    #[test]
    fn kubernetes_ports_as_istio_selects_them() {
        let cases: &[Case] = &[
            (9080, Some("http"), None, None, Protocol::Http),
            (80, Some("http-web"), Some("TCP"), None, Protocol::Http),
            (80, Some("HTTP2-api"), None, None, Protocol::Http2),
            (80, Some("grpc"), None, None, Protocol::Grpc),
            (80, Some("grpc-web"), None, None, Protocol::GrpcWeb),
            (80, Some("grpc-web-ui"), None, None, Protocol::GrpcWeb),
            (80, Some("grpc-api"), None, None, Protocol::Grpc),
            (80, Some("tcp-db"), None, None, Protocol::Tcp),
            (443, Some("tls-x"), None, None, Protocol::Tls),
            (443, Some("https"), None, None, Protocol::Https),
            (27017, Some("mongo"), None, None, Protocol::Mongo),
            (3306, Some("mysql-main"), None, None, Protocol::Mysql),
            (6379, Some("redis"), None, None, Protocol::Redis),
            // appProtocol wins over the name.
            (80, Some("http"), None, Some("grpc"), Protocol::Grpc),
            (
                80,
                Some("tcp"),
                None,
                Some("kubernetes.io/h2c"),
                Protocol::Http2,
            ),
            (80, None, None, Some("kubernetes.io/ws"), Protocol::Http),
            // An unknown appProtocol is not second-guessed from the name.
            (80, Some("http"), None, Some("custom"), Protocol::Auto),
            // UDP is UDP, whatever the name.
            (53, Some("http"), Some("UDP"), None, Protocol::Udp),
            // Unknown or missing names are detected, except on server-first ports.
            (8080, Some("web"), None, None, Protocol::Auto),
            (8080, None, None, None, Protocol::Auto),
            (8080, Some("httpx"), None, None, Protocol::Auto),
            (3306, Some("db"), None, None, Protocol::Tcp),
            (25, None, None, None, Protocol::Tcp),
        ];
        for &(number, name, transport, app_protocol, expected) in cases {
            assert_eq!(
                Protocol::of_kubernetes_port(number, name, transport, app_protocol),
                expected,
                "{number} {name:?} {transport:?} {app_protocol:?}"
            );
        }
    }

    #[test]
    fn names_round_trip() {
        for protocol in [
            Protocol::Http,
            Protocol::Http2,
            Protocol::Grpc,
            Protocol::GrpcWeb,
            Protocol::Https,
            Protocol::Tls,
            Protocol::Tcp,
            Protocol::Udp,
            Protocol::Mongo,
            Protocol::Mysql,
            Protocol::Redis,
        ] {
            assert_eq!(Protocol::parse(protocol.as_str()), Some(protocol));
            assert_eq!(
                serde_json::to_value(protocol).unwrap(),
                serde_json::json!(protocol.as_str())
            );
        }
        assert_eq!(Protocol::parse("AUTO"), None);
        assert_eq!(Protocol::parse("quic"), None);
    }
}
