//! A stock Envoy as a gateway in `istio-system`, configured over ADS by a control plane that
//! reads one config directory: what the live gateway tests start alike.

use std::{
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

use mesh_controlplane::server::{ControlPlane, Source};
use rustls::{ClientConfig, RootCertStore, pki_types::CertificateDer};
use serde_json::json;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;

/// Who the gateway is: its pod, its Envoy cluster and its `istio` label (what Gateway
/// selectors match).
#[derive(Clone, Copy, Debug)]
pub struct Identity<'a> {
    pub pod: &'a str,
    pub cluster: &'a str,
    pub istio_label: &'a str,
}

/// The control plane and the Envoy it drives; Envoy is killed when this is dropped, however
/// the test ends.
pub struct EnvoyGateway {
    pub control_plane: ControlPlane,
    log: PathBuf,
    _envoy: Envoy,
}

struct Envoy(Child);

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl EnvoyGateway {
    /// Starts the control plane on `config_dir` (debounce 20 ms), then `envoy` as `identity`,
    /// its bootstrap and log in `work_dir`.
    pub async fn start(
        envoy: &Path,
        work_dir: &Path,
        config_dir: PathBuf,
        identity: Identity<'_>,
    ) -> Self {
        let control_plane = ControlPlane::start(super::config(
            Source::ConfigDirs(vec![config_dir]),
            Duration::from_millis(20),
        ))
        .await
        .expect("the control plane starts");
        let bootstrap_path = work_dir.join("envoy.json");
        let bootstrap = bootstrap(control_plane.xds_address(), identity);
        fs::write(
            &bootstrap_path,
            serde_json::to_string_pretty(&bootstrap).expect("the bootstrap is JSON"),
        )
        .expect("the bootstrap is written");
        let log = work_dir.join("envoy.log");
        let log_file = fs::File::create(&log).expect("Envoy's log is created");
        let envoy = Command::new(envoy)
            .args(["--disable-hot-restart", "--log-level", "info", "-c"])
            .arg(&bootstrap_path)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("envoy starts");
        Self {
            control_plane,
            log,
            _envoy: Envoy(envoy),
        }
    }

    /// Envoy's log so far, for a failure's message.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the control plane (bounded: 10 s), then Envoy.
    pub async fn stop(self) {
        timeout(Duration::from_secs(10), self.control_plane.stop())
            .await
            .expect("the control plane stops in time")
            .expect("the control plane stops cleanly");
    }
}

/// A port free on loopback now, for the gateway's listener.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The bootstrap of a gateway in `istio-system` whose configuration comes over ADS from `xds`.
fn bootstrap(xds: SocketAddr, identity: Identity<'_>) -> serde_json::Value {
    let ads = json!({"ads": {}, "resource_api_version": "V3"});
    json!({
        "node": {
            "id": format!("router~127.0.0.1~{}.istio-system~istio-system.svc.cluster.local", identity.pod),
            "cluster": identity.cluster,
            "metadata": {
                "NAMESPACE": "istio-system",
                "LABELS": {"istio": identity.istio_label}
            }
        },
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}]
            },
            "cds_config": ads,
            "lds_config": ads
        },
        "static_resources": {"clusters": [{
            "name": "xds-grpc",
            "type": "STATIC",
            "connect_timeout": "1s",
            "typed_extension_protocol_options": {
                "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                    "explicit_http_config": {"http2_protocol_options": {}}
                }
            },
            "load_assignment": {
                "cluster_name": "xds-grpc",
                "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                    "address": xds.ip().to_string(), "port_value": xds.port()
                }}}}]}]
            }
        }]}
    })
}

/// A TLS client that trusts `ca` alone and presents no certificate: a session it completes
/// proves that whoever answered holds a certificate of `ca`.
pub fn client_trusting(ca: CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(ca).expect("the CA is a certificate");
    let client = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(std::sync::Arc::new(client))
}
