//! Bootstrap files with static resources, written as Envoy's YAML so that a stock Envoy reads
//! the same file as mesh-proxy, and the `mesh-proxy run` command that reads them.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Command,
};

/// The binary under test.
pub const MESH_PROXY: &str = env!("CARGO_BIN_EXE_mesh-proxy");

/// A bootstrap's `node` and static listeners and clusters, each kept as its YAML item.
#[derive(Clone, Debug, Default)]
pub struct StaticBootstrap {
    node: String,
    listeners: Vec<String>,
    clusters: Vec<String>,
}

// === impl StaticBootstrap ===

impl StaticBootstrap {
    /// A bootstrap whose `node` is the YAML block `node` (`node:` included), or none for "".
    pub fn new(node: &str) -> Self {
        Self {
            node: node.to_owned(),
            ..Self::default()
        }
    }

    /// A bootstrap for a router (a gateway) named `name`, in namespace `default`.
    pub fn router(name: &str) -> Self {
        Self::new(&format!(
            "node: {{id: \"router~127.0.0.1~{name}.default~default.svc.cluster.local\", \
             cluster: {name}}}\n"
        ))
    }

    /// Adds an HTTP listener named `name` on 127.0.0.1:`port`; see [`http_listener`].
    pub fn http_listener(mut self, name: &str, port: u16, virtual_hosts: &str) -> Self {
        self.listeners
            .push(http_listener(name, port, virtual_hosts));
        self
    }

    /// Adds a TCP proxy listener named `name` on 127.0.0.1:`port` to `cluster`, with its
    /// access log on stdout.
    pub fn tcp_listener(mut self, name: &str, port: u16, cluster: &str) -> Self {
        self.listeners.push(format!(
            r#"name: {name}
address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
filter_chains:
- filters:
  - name: envoy.filters.network.tcp_proxy
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
      stat_prefix: {name}
      cluster: "{cluster}"
      access_log: [{{name: envoy.access_loggers.stdout, typed_config: {{"@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog}}}}]
"#
        ));
        self
    }

    /// Adds the STATIC cluster `name` whose one endpoint is `endpoint`.
    pub fn static_cluster(self, name: &str, endpoint: SocketAddr) -> Self {
        self.cluster(name, endpoint, "")
    }

    /// Like [`StaticBootstrap::static_cluster`], with the service in Istio's metadata, as
    /// Istio gives inbound clusters: `[host, name, namespace]`.
    pub fn service_cluster(self, name: &str, endpoint: SocketAddr, service: [&str; 3]) -> Self {
        let [host, service_name, namespace] = service;
        let metadata = format!(
            "metadata:\n  filter_metadata:\n    istio:\n      services:\n      - {{host: {host}, \
             name: {service_name}, namespace: {namespace}}}\n"
        );
        self.cluster(name, endpoint, &metadata)
    }

    fn cluster(mut self, name: &str, endpoint: SocketAddr, metadata: &str) -> Self {
        self.clusters.push(format!(
            r#"name: "{name}"
type: STATIC
connect_timeout: 1s
{metadata}load_assignment:
  cluster_name: "{name}"
  endpoints:
  - lb_endpoints:
    - endpoint:
        address: {{socket_address: {{address: {ip}, port_value: {port}}}}}
"#,
            ip = endpoint.ip(),
            port = endpoint.port()
        ));
        self
    }

    /// The bootstrap file's text.
    pub fn yaml(&self) -> String {
        let mut out = self.node.clone();
        out.push_str("static_resources:\n");
        for (section, items) in [("listeners", &self.listeners), ("clusters", &self.clusters)] {
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("  {section}:\n"));
            for item in items {
                out.push_str(&list_item(item, 2));
            }
        }
        out
    }

    /// Writes the bootstrap as `dir/file` and returns the file's path.
    pub fn write(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, self.yaml()).expect("write the bootstrap");
        path
    }
}

/// A `Listener` named `name` on 127.0.0.1:`port` whose connection manager (`stat_prefix`
/// `name`) routes with an inline route table named `name` holding `virtual_hosts` (YAML list
/// items at column 0), and ends with the router filter.
pub fn http_listener(name: &str, port: u16, virtual_hosts: &str) -> String {
    format!(
        r#"name: {name}
address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
filter_chains:
- filters:
  - name: envoy.filters.network.http_connection_manager
    typed_config:
      "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
      stat_prefix: {name}
      route_config:
        name: {name}
        virtual_hosts:
{virtual_hosts}      http_filters:
      - name: envoy.filters.http.router
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
"#,
        virtual_hosts = indent(virtual_hosts, 8)
    )
}

/// One virtual host for every domain, routing every path to `cluster`.
pub fn all_to(cluster: &str) -> String {
    format!(
        "- name: all\n  domains: [\"*\"]\n  routes:\n  - match: {{prefix: /}}\n    route: \
         {{cluster: \"{cluster}\"}}\n"
    )
}

/// `yaml` with the lines of `block` inserted before (or, with `after`, after) its first line
/// that reads `anchor` once trimmed, at that line's indentation: how a test adds a field or a
/// filter to a generated bootstrap.
pub fn insert_at(yaml: &str, anchor: &str, block: &str, after: bool) -> String {
    let line = yaml
        .lines()
        .find(|line| line.trim_start() == anchor)
        .unwrap_or_else(|| panic!("no line {anchor:?} in the bootstrap"));
    let pad = &line[..line.len() - line.trim_start().len()];
    let block: String = block.lines().map(|l| format!("{pad}{l}\n")).collect();
    let with = if after {
        format!("{line}\n{block}")
    } else {
        format!("{block}{line}\n")
    };
    yaml.replacen(&format!("{line}\n"), &with, 1)
}

/// `mesh-proxy run` on `bootstrap` with one worker; the caller adds the ports it wants.
pub fn mesh_proxy_run(bootstrap: &Path) -> Command {
    let mut command = Command::new(MESH_PROXY);
    command
        .args(["run", "--concurrency=1", "--bootstrap"])
        .arg(bootstrap);
    command
}

/// `text` as an item of a YAML block sequence indented by `by` spaces.
fn list_item(text: &str, by: usize) -> String {
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let marker = if i == 0 { "- " } else { "  " };
        out.push_str(&format!("{:by$}{marker}{line}\n", ""));
    }
    out
}

/// Every line of `text` indented by `by` spaces.
fn indent(text: &str, by: usize) -> String {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| format!("{:by$}{line}\n", ""))
        .collect()
}
