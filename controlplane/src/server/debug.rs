//! The JSON of the monitoring server's `/debug` pages, built from the state of the running
//! control plane. Each page is documented in `docs/controlplane.md`; a field renamed here is a
//! change to what operators' scripts read.

use mesh_common::{
    api::ResourceKey,
    load::LoadError,
    validate::{Finding, Severity},
};
use mesh_xds::{ResourceType, json::to_json};
use prost::Name;
use serde_json::{Map, Value, json};

use super::generator::Translated;
use crate::{model::Snapshot, xds::StatusSnapshot};

/// `/debug/syncz`: one entry per connected proxy stream, with its progress per type URL.
///
/// ```json
/// [{"proxy": "sidecar~…", "protocol": "sotw",
///   "types": {"type.googleapis.com/envoy.config.cluster.v3.Cluster":
///     {"version_sent": "…", "nonce": "…", "version_acked": "…", "last_nack": null,
///      "last_push_unix_ms": 1700000000000}}}]
/// ```
pub fn syncz(status: &StatusSnapshot) -> Value {
    let proxies = status.proxies.iter().map(|proxy| {
        let types: Map<String, Value> = ResourceType::ALL
            .iter()
            .filter_map(|kind| {
                let progress = proxy.types.get(kind.short_name())?;
                Some((kind.type_url().to_string(), json!(progress)))
            })
            .collect();
        json!({
            "proxy": proxy.node_id,
            "protocol": proxy.protocol,
            "types": types,
        })
    });
    Value::Array(proxies.collect())
}

/// `/debug/config_dump`: everything the proxy is sent, each resource as Envoy prints it, and
/// for a gateway the servers its translation left out (`warnings`). The monitoring server adds
/// the SDS `secrets` the proxy is sent, with private keys `[redacted]` as in Envoy's dump.
///
/// ```json
/// {"proxy": "sidecar~…", "snapshot_version": 3,
///  "clusters": [{…}], "endpoints": [{…}], "listeners": [{…}], "routes": [{…}],
///  "warnings": ["…"], "secrets": [{"name": "kubernetes://…", "tls_certificate": {…}}]}
/// ```
pub fn config_dump(
    node_id: &str,
    translated: &Translated,
    warnings: &[String],
) -> Result<Value, String> {
    fn all<M: prost::Message + Name>(items: &[M]) -> Result<Value, String> {
        let items: Result<Vec<_>, _> = items.iter().map(to_json).collect();
        items.map(Value::Array).map_err(|error| error.to_string())
    }
    let resources = &translated.resources();
    Ok(json!({
        "proxy": node_id,
        "snapshot_version": translated.version,
        "clusters": all(&resources.clusters)?,
        "endpoints": all(&resources.endpoints)?,
        "listeners": all(&resources.listeners)?,
        "routes": all(&resources.routes)?,
        "warnings": warnings,
    }))
}

/// `/debug/config_status`: what the user's config says that is not served as written.
///
/// ```json
/// {"snapshot_version": 3,
///  "file_errors": [{"file": "reviews.yaml", "line": 12, "kind": "VirtualService",
///                   "namespace": "default", "name": "reviews", "reason": "…",
///                   "message": "reviews.yaml:12: VirtualService default/reviews: …"}],
///  "rejected": [{"resource": "VirtualService default/reviews",
///                "findings": [{"severity": "error", "path": "spec.http[0]", "message": "…"}]}],
///  "warnings": [same shape as rejected],
///  "malformed_secrets": [{"secret": "default/shop-cert", "reason": "…"}],
///  "unresolved_secrets": [{"proxy": "router~…", "name": "kubernetes://shop-cert",
///                          "reason": "…"}]}
/// ```
///
/// `file_errors` are documents that could not be read: the store keeps serving the last good
/// version of their file. `rejected` resources were read but fail validation and are left out;
/// `warnings` are kept but set fields mesh.rs does not honour yet. `malformed_secrets` are
/// Secrets that mean to hold TLS credentials and do not; `unresolved_secrets` are the SDS names
/// proxies asked for and were not sent (they keep waiting for them).
pub fn config_status(snapshot: &Snapshot, load_errors: &[LoadError]) -> Value {
    let file_errors = load_errors.iter().map(|error| {
        json!({
            "file": error.origin.file.display().to_string(),
            "line": error.origin.line,
            "kind": error.kind,
            "namespace": error.namespace,
            "name": error.name,
            "reason": error.reason,
            "message": error.to_string(),
        })
    });
    let config = snapshot.config();
    json!({
        "snapshot_version": snapshot.version(),
        "file_errors": file_errors.collect::<Vec<_>>(),
        "rejected": reports(config.rejected()),
        "warnings": reports(config.warnings()),
        "malformed_secrets": super::generator::secrets::malformed(snapshot),
    })
}

fn reports(reports: &[(ResourceKey, Vec<Finding>)]) -> Value {
    let reports = reports.iter().map(|(key, findings)| {
        let findings = findings.iter().map(|finding| {
            let severity = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            json!({
                "severity": severity,
                "path": finding.path.to_string(),
                "message": finding.message,
            })
        });
        json!({
            "resource": key.to_string(),
            "findings": findings.collect::<Vec<_>>(),
        })
    });
    Value::Array(reports.collect())
}

#[cfg(test)]
mod tests;
