//! The one interface the scenarios drive: a mesh with bookinfo in it, wherever it runs.
//!
//! A substrate implements the few operations that differ between a machine's network
//! namespaces and a Kubernetes cluster (applying config, running a command in a pod, reaching
//! the gateway); requests and reading a proxy's admin server are built on those, so both
//! substrates send the very same requests.

use std::{net::SocketAddr, path::Path, process::Output};

use crate::http::{self, HttpRequest, HttpResponse};

/// Why a cluster operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} failed ({status}): {stderr}")]
    Command {
        what: String,
        status: String,
        stderr: String,
    },
    #[error("{what}: {reason}")]
    Substrate { what: String, reason: String },
    #[error(transparent)]
    Http(#[from] http::HttpError),
}

/// A mesh running bookinfo, on some substrate.
pub trait Cluster {
    /// Applies the Istio config in a YAML file, as `kubectl apply -f` would.
    fn apply(&self, manifest: &Path) -> Result<(), ClusterError>;

    /// Deletes the Istio config in a YAML file, as `kubectl delete -f` would.
    fn delete(&self, manifest: &Path) -> Result<(), ClusterError>;

    /// Runs `argv` inside a pod of `workload` (its network namespace, so its traffic goes
    /// through its sidecar), as `kubectl exec` would; the output is captured.
    fn exec(&self, workload: &str, argv: &[String]) -> Result<Output, ClusterError>;

    /// Stops the control plane, as when its pod goes away; proxies and workloads keep running.
    fn stop_control_plane(&self) -> Result<(), ClusterError>;

    /// Starts the control plane again and waits until it serves xDS.
    fn start_control_plane(&self) -> Result<(), ClusterError>;

    /// Where the ingress gateway's HTTP port answers from this machine.
    fn gateway(&self) -> SocketAddr;

    /// Reads `path` from the admin server of `workload`'s sidecar.
    fn proxy_admin(&self, workload: &str, path: &str) -> Result<String, ClusterError> {
        let request = HttpRequest::get(&format!("http://127.0.0.1:15000{path}"));
        let response = self.request_from(workload, &request)?;
        Ok(response.body)
    }

    /// Sends `request` through the ingress gateway (its URL's host is the `Host` header; the
    /// connection goes to [`Cluster::gateway`]).
    fn through_gateway(&self, request: &HttpRequest) -> Result<HttpResponse, ClusterError> {
        let output = http::curl_here(&request.curl_args(Some(self.gateway())))?;
        Ok(http::parse_curl(&output)?)
    }

    /// Sends `request` from inside `workload`, through its sidecar.
    fn request_from(
        &self,
        workload: &str,
        request: &HttpRequest,
    ) -> Result<HttpResponse, ClusterError> {
        let output = self.exec(workload, &request.curl_args(None))?;
        Ok(http::parse_curl(&output)?)
    }
}
