//! xDS v3 type URLs, shared by the control plane's server and the proxy's client.

const PREFIX: &str = "type.googleapis.com/";

pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
pub const ROUTE_CONFIGURATION: &str =
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
pub const CLUSTER_LOAD_ASSIGNMENT: &str =
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
pub const SECRET: &str = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

/// The order Envoy asks for resources in, which warming depends on: clusters before their
/// endpoints, listeners before their routes.
pub const PUSH_ORDER: &[&str] = &[
    CLUSTER,
    CLUSTER_LOAD_ASSIGNMENT,
    LISTENER,
    ROUTE_CONFIGURATION,
    SECRET,
];

/// The short name of a type URL (`Listener`), for logs and metrics labels.
pub fn short_name(type_url: &str) -> &str {
    let full = type_url.strip_prefix(PREFIX).unwrap_or(type_url);
    full.rsplit('.').next().unwrap_or(full)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_name(LISTENER), "Listener");
        assert_eq!(short_name(CLUSTER_LOAD_ASSIGNMENT), "ClusterLoadAssignment");
        assert_eq!(short_name("custom"), "custom");
    }
}
