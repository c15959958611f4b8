//! `status`: the workloads of the running instance, whether their processes run, and how far
//! each proxy is synced, from the control plane's `/debug/syncz`.

use std::{
    fmt::Write as _,
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use serde::Serialize;
use serde_json::Value;

use super::{
    plan::Mode,
    process,
    render::CLUSTER_DOMAIN,
    state::{Role, State},
};

/// One row of the status: a workload, or the gateway or control plane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusRow {
    pub name: String,
    pub namespace: String,
    pub ip: String,
    /// `running`, `exited`, or `-` when there is no such process.
    pub process: String,
    pub proxy: String,
    /// The proxy's sync state: `SYNCED`, `STALE`, `NACK: …`, `NOT CONNECTED`, or `-`.
    pub sync: String,
    pub log: String,
}

/// The whole status, as `-o json|yaml` prints it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub id: String,
    pub mode: Mode,
    pub gateway: Option<String>,
    pub monitoring: Option<String>,
    /// Why the sync state is unknown, when it is.
    pub sync_error: Option<String>,
    pub workloads: Vec<StatusRow>,
}

/// The status of `state`; `syncz` is the control plane's answer, or why there is none.
pub fn status(state: &State, syncz: Result<Value, String>) -> Status {
    let running = |name: &str, role: Role| {
        state
            .processes
            .iter()
            .find(|p| p.name == name && p.role == role)
            .map(|p| {
                let alive = if process::is_running(p) {
                    "running"
                } else {
                    "exited"
                };
                (alive.to_string(), p.clone())
            })
    };
    let proxies = syncz.as_ref().ok();
    let mut rows = Vec::new();
    for pod in &state.plan.workloads {
        let workload = running(&pod.name, Role::Workload);
        let proxy = running(&pod.name, Role::Proxy);
        let node_id = format!(
            "sidecar~{}~{}.{}~{}.svc.{CLUSTER_DOMAIN}",
            pod.ip, pod.name, pod.namespace, pod.namespace
        );
        rows.push(StatusRow {
            name: pod.name.clone(),
            namespace: pod.namespace.clone(),
            ip: pod.ip.to_string(),
            process: workload
                .as_ref()
                .map_or("-".to_string(), |(s, _)| s.clone()),
            proxy: proxy.as_ref().map_or("-".to_string(), |(s, _)| s.clone()),
            sync: match (&proxy, proxies) {
                (None, _) | (_, None) => "-".to_string(),
                (Some(_), Some(syncz)) => sync_state(syncz, &node_id),
            },
            log: workload.map_or(String::new(), |(_, p)| p.log.display().to_string()),
        });
    }
    if let Some((alive, record)) = running("ingressgateway", Role::Gateway) {
        let node_id =
            format!("router~127.0.0.1~ingressgateway.mesh-system~mesh-system.svc.{CLUSTER_DOMAIN}");
        rows.push(StatusRow {
            name: record.name.clone(),
            namespace: "mesh-system".to_string(),
            ip: "127.0.0.1".to_string(),
            process: "-".to_string(),
            proxy: alive,
            sync: proxies.map_or("-".to_string(), |s| sync_state(s, &node_id)),
            log: record.log.display().to_string(),
        });
    }
    Status {
        id: state.plan.id.clone(),
        mode: state.plan.mode,
        gateway: state.gateway.clone(),
        monitoring: state.monitoring.clone(),
        sync_error: syncz.err(),
        workloads: rows,
    }
}

/// The sync state of `node_id` in a `/debug/syncz` answer: a list of proxies, each with its
/// node id (`proxy`) and its progress per type (`types`, keyed by type URL, each with
/// `version_sent`, `version_acked` and `last_nack`). Synced when every type's last version sent
/// was ACKed, as `istioctl proxy-status` says it.
pub fn sync_state(syncz: &Value, node_id: &str) -> String {
    let proxies = syncz
        .as_array()
        .or_else(|| syncz.get("proxies").and_then(Value::as_array));
    let id_of = |p: &Value| {
        p.get("proxy")
            .or_else(|| p.get("node_id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let Some(proxy) = proxies
        .into_iter()
        .flatten()
        .find(|p| id_of(p).as_deref() == Some(node_id))
    else {
        return "NOT CONNECTED".to_string();
    };
    let Some(types) = proxy.get("types").and_then(Value::as_object) else {
        return "CONNECTED".to_string();
    };
    let mut stale = Vec::new();
    for (type_url, progress) in types {
        // `type.googleapis.com/envoy.config.cluster.v3.Cluster` reads as `Cluster`.
        let kind = type_url.rsplit('.').next().unwrap_or(type_url);
        if let Some(nack) = progress.get("last_nack").and_then(Value::as_str) {
            return format!("NACK {kind}: {nack}");
        }
        let sent = progress.get("version_sent").and_then(Value::as_str);
        let acked = progress.get("version_acked").and_then(Value::as_str);
        if sent.is_some() && sent != acked {
            stale.push(kind);
        }
    }
    if stale.is_empty() {
        "SYNCED".to_string()
    } else {
        format!("STALE {}", stale.join(","))
    }
}

/// GETs `/debug/syncz` from the control plane at `address` (plain HTTP/1.0, so the answer is
/// never chunked).
pub fn fetch_syncz(address: &str) -> Result<Value, String> {
    let address: SocketAddr = address
        .parse()
        .map_err(|e| format!("control plane address {address}: {e}"))?;
    let timeout = Duration::from_secs(2);
    let unreachable = |e: std::io::Error| format!("control plane at {address}: {e}");
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(unreachable)?;
    stream
        .write_all(b"GET /debug/syncz HTTP/1.0\r\nAccept: application/json\r\n\r\n")
        .map_err(unreachable)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).map_err(unreachable)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| "the control plane's /debug/syncz answer is not HTTP".to_string())?;
    let status_line = head.lines().next().unwrap_or_default();
    if status_line.split_whitespace().nth(1) != Some("200") {
        return Err(format!("/debug/syncz answered {status_line:?}"));
    }
    serde_json::from_str(body).map_err(|e| format!("/debug/syncz is not JSON: {e}"))
}

/// The status as a table.
pub fn table(status: &Status) -> String {
    let header = ["WORKLOAD", "NAMESPACE", "IP", "APP", "PROXY", "SYNC", "LOG"];
    let rows: Vec<[&str; 7]> = status
        .workloads
        .iter()
        .map(|r| {
            [
                r.name.as_str(),
                &r.namespace,
                &r.ip,
                &r.process,
                &r.proxy,
                &r.sync,
                &r.log,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    if let Some(gateway) = &status.gateway {
        let _ = writeln!(out, "\ningress gateway: {gateway}/productpage");
    }
    if let Some(monitoring) = &status.monitoring {
        let _ = writeln!(out, "control plane:   {monitoring}/debug/syncz");
    }
    if status.mode == Mode::Explicit {
        let _ = writeln!(
            out,
            "explicit-proxy mode: no traffic capture; the callee's sidecar is not in the path"
        );
    }
    if let Some(error) = &status.sync_error {
        let _ = writeln!(out, "sync state unknown: {error}");
    }
    out
}
