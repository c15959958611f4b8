//! `/config_dump`: the static resources of the bootstrap and the dynamic ones last accepted,
//! in the shape of Envoy's `envoy.admin.v3.ConfigDump` so that tools reading Envoy's dump
//! (istioctl's `proxy-config`, scripts) read ours.
//!
//! The last refused response of each type shows as Envoy's `error_state` (an
//! `UpdateFailureState`) on the entry of the resource the NACK names: the accepted one of that
//! name, or an entry of its own when none was accepted. It goes with the next accepted
//! response of the type, as in Envoy.
//!
//! Secrets show as Envoy's `SecretsConfigDump`, when the proxy has any: the bootstrap's
//! `static_secrets`, the `dynamic_active_secrets` received over SDS (with their `version_info`
//! and `last_updated`), and the `dynamic_warming_secrets` subscribed to and not received yet.
//!
//! A cluster or listener that waits for its secrets (warming) shows as Envoy shows it: the
//! cluster in `dynamic_warming_clusters`, the listener with a `warming_state` in place of its
//! `active_state`.
//!
//! Private keys are never shown: as Envoy redacts its `sensitive` fields, every string under a
//! `private_key` or `password` (a TLS certificate's, in the bootstrap's secrets, a secret from
//! SDS or a cluster's `UpstreamTlsContext`) reads `[redacted]`.

use std::collections::BTreeSet;

use envoy_types::pb::{
    envoy::{
        config::bootstrap::v3::{Bootstrap, bootstrap::StaticResources},
        extensions::transport_sockets::tls::v3::Secret,
    },
    google::protobuf::Any,
};
use mesh_xds::{
    json::{JsonError, to_json},
    resource::{Resource, ResourceType},
};
use prost::Name;
use serde_json::{Map, Value, json};

use crate::{
    access_log::rfc3339,
    xds_client::{AcceptedResource, ErrorState, TypeStatus, XdsStatus},
};

const ADMIN: &str = "type.googleapis.com/envoy.admin.v3.";

/// What a sensitive string shows as, in Envoy's words.
const REDACTED: &str = "[redacted]";

/// The names of the dynamic clusters and listeners that wait for their secrets.
#[derive(Debug, Default)]
pub(super) struct Warming {
    pub clusters: BTreeSet<String>,
    pub listeners: BTreeSet<String>,
}

/// The whole dump.
pub(super) fn config_dump(
    bootstrap: Option<&Bootstrap>,
    xds: Option<&XdsStatus>,
    warming: &Warming,
) -> Result<Value, JsonError> {
    let statics = bootstrap
        .and_then(|b| b.static_resources.clone())
        .unwrap_or_default();
    let of = |kind: ResourceType| xds.and_then(|x| x.types.get(&kind));
    let mut configs = Vec::new();
    if let Some(bootstrap) = bootstrap {
        configs.push(json!({
            "@type": format!("{ADMIN}BootstrapConfigDump"),
            "bootstrap": to_json(bootstrap)?,
        }));
    }

    let mut clusters = section("ClustersConfigDump", of(ResourceType::Cluster));
    clusters.insert(
        "static_clusters".to_owned(),
        statics
            .clusters
            .iter()
            .map(|c| Ok(json!({ "cluster": typed(c)? })))
            .collect::<Result<Value, JsonError>>()?,
    );
    let dynamic_clusters = match dynamic(of(ResourceType::Cluster), |accepted, resource| {
        Ok(json!({ "version_info": accepted.version, "cluster": resource }))
    })? {
        Value::Array(entries) => entries,
        other => vec![other],
    };
    let (warming_clusters, active_clusters): (Vec<Value>, Vec<Value>) =
        dynamic_clusters.into_iter().partition(|entry| {
            entry["cluster"]["name"]
                .as_str()
                .is_some_and(|name| warming.clusters.contains(name))
        });
    clusters.insert(
        "dynamic_active_clusters".to_owned(),
        Value::Array(active_clusters),
    );
    if !warming_clusters.is_empty() {
        clusters.insert(
            "dynamic_warming_clusters".to_owned(),
            Value::Array(warming_clusters),
        );
    }
    configs.push(Value::Object(clusters));

    let mut endpoints = section("EndpointsConfigDump", None);
    endpoints.insert(
        "dynamic_endpoint_configs".to_owned(),
        dynamic(
            of(ResourceType::ClusterLoadAssignment),
            |accepted, resource| {
                Ok(json!({ "version_info": accepted.version, "endpoint_config": resource }))
            },
        )?,
    );
    configs.push(Value::Object(endpoints));

    let mut listeners = section("ListenersConfigDump", of(ResourceType::Listener));
    listeners.insert(
        "static_listeners".to_owned(),
        statics
            .listeners
            .iter()
            .map(|l| Ok(json!({ "listener": typed(l)? })))
            .collect::<Result<Value, JsonError>>()?,
    );
    listeners.insert(
        "dynamic_listeners".to_owned(),
        dynamic_named(of(ResourceType::Listener), |accepted, resource| {
            let warms = resource["name"]
                .as_str()
                .is_some_and(|name| warming.listeners.contains(name));
            let state = if warms {
                "warming_state"
            } else {
                "active_state"
            };
            Ok(json!({
                state: { "version_info": accepted.version, "listener": resource },
            }))
        })?,
    );
    configs.push(Value::Object(listeners));

    let mut routes = section("RoutesConfigDump", None);
    routes.insert(
        "dynamic_route_configs".to_owned(),
        dynamic(
            of(ResourceType::RouteConfiguration),
            |accepted, resource| {
                Ok(json!({ "version_info": accepted.version, "route_config": resource }))
            },
        )?,
    );
    configs.push(Value::Object(routes));
    let subscribed = xds.and_then(|x| x.subscribed.get(&ResourceType::Secret));
    if let Some(secrets) = secrets(&statics, of(ResourceType::Secret), subscribed)? {
        configs.push(secrets);
    }
    let mut dump = json!({ "configs": configs });
    redact(&mut dump, false);
    Ok(dump)
}

/// Envoy's `SecretsConfigDump`, when there is a secret to show.
fn secrets(
    statics: &StaticResources,
    status: Option<&TypeStatus>,
    subscribed: Option<&BTreeSet<String>>,
) -> Result<Option<Value>, JsonError> {
    let received = |name: &String| status.is_some_and(|s| s.resources.contains_key(name));
    let warming = subscribed
        .into_iter()
        .flatten()
        .filter(|name| !received(name))
        .map(|name| {
            let secret = typed(&Secret {
                name: name.clone(),
                ..Secret::default()
            })?;
            Ok(json!({ "name": name, "secret": secret }))
        })
        .collect::<Result<Vec<Value>, JsonError>>()?;
    let active = dynamic_named(status, |accepted, resource| {
        Ok(json!({
            "version_info": accepted.version,
            "last_updated": rfc3339(accepted.updated),
            "secret": resource,
        }))
    })?;
    let empty = |v: &Value| v.as_array().is_none_or(Vec::is_empty);
    if statics.secrets.is_empty() && empty(&active) && warming.is_empty() {
        return Ok(None);
    }
    let mut map = section("SecretsConfigDump", None);
    map.insert(
        "static_secrets".to_owned(),
        statics
            .secrets
            .iter()
            .map(|s| Ok(json!({ "name": s.name, "secret": typed(s)? })))
            .collect::<Result<Value, JsonError>>()?,
    );
    map.insert("dynamic_active_secrets".to_owned(), active);
    map.insert("dynamic_warming_secrets".to_owned(), Value::Array(warming));
    Ok(Some(Value::Object(map)))
}

/// Replaces every string under a sensitive field (`private_key`, `password`) by `[redacted]`.
fn redact(value: &mut Value, sensitive: bool) {
    match value {
        Value::String(text) if sensitive => *text = REDACTED.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|item| redact(item, sensitive)),
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                let sensitive = sensitive || matches!(name.as_str(), "private_key" | "password");
                redact(field, sensitive);
            }
        }
        _ => {}
    }
}

/// A section's `@type` and, for listeners and clusters, the version of the last update.
fn section(kind: &str, status: Option<&TypeStatus>) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("@type".to_owned(), Value::String(format!("{ADMIN}{kind}")));
    if let Some(status) = status {
        map.insert(
            "version_info".to_owned(),
            Value::String(status.version.clone()),
        );
    }
    map
}

/// The accepted resources of a type, one entry each, with the type's `error_state`.
fn dynamic(
    status: Option<&TypeStatus>,
    entry: impl Fn(&AcceptedResource, Value) -> Result<Value, JsonError>,
) -> Result<Value, JsonError> {
    entries(status, false, entry)
}

/// As [`dynamic`], with each entry's `name` first (listeners).
fn dynamic_named(
    status: Option<&TypeStatus>,
    entry: impl Fn(&AcceptedResource, Value) -> Result<Value, JsonError>,
) -> Result<Value, JsonError> {
    entries(status, true, entry)
}

fn entries(
    status: Option<&TypeStatus>,
    named: bool,
    entry: impl Fn(&AcceptedResource, Value) -> Result<Value, JsonError>,
) -> Result<Value, JsonError> {
    let Some(status) = status else {
        return Ok(Value::Array(Vec::new()));
    };
    let failed_name = status
        .error_state
        .as_ref()
        .map(|e| e.failed.as_ref().map_or("", |(name, _)| name.as_str()));
    let mut entries = Vec::with_capacity(status.resources.len() + 1);
    let mut attached = false;
    for (name, accepted) in &status.resources {
        let mut map = Map::new();
        if named {
            map.insert("name".to_owned(), Value::String(name.clone()));
        }
        if let Value::Object(fields) = entry(accepted, any_json(&accepted.resource)?)? {
            map.extend(fields);
        }
        if let Some(error) = status
            .error_state
            .as_ref()
            .filter(|_| failed_name == Some(name))
        {
            map.insert("error_state".to_owned(), error_state(error)?);
            attached = true;
        }
        entries.push(Value::Object(map));
    }
    if let Some(error) = status.error_state.as_ref().filter(|_| !attached) {
        let mut map = Map::new();
        if let Some(name) = failed_name.filter(|name| named && !name.is_empty()) {
            map.insert("name".to_owned(), Value::String(name.to_owned()));
        }
        map.insert("error_state".to_owned(), error_state(error)?);
        entries.push(Value::Object(map));
    }
    Ok(Value::Array(entries))
}

/// Envoy's `UpdateFailureState`. The refused resource is printed when it decodes.
fn error_state(error: &ErrorState) -> Result<Value, JsonError> {
    let mut map = Map::new();
    if let Some(resource) = error
        .failed
        .as_ref()
        .and_then(|(_, any)| Resource::decode_any(any).ok())
    {
        map.insert("failed_configuration".to_owned(), resource_json(&resource)?);
    }
    map.insert(
        "last_update_attempt".to_owned(),
        Value::String(rfc3339(error.at)),
    );
    map.insert("details".to_owned(), Value::String(error.details.clone()));
    map.insert(
        "version_info".to_owned(),
        Value::String(error.version.clone()),
    );
    Ok(Value::Object(map))
}

/// A resource as an `Any` prints: its fields and its `@type`.
fn typed<M: prost::Message + Name>(message: &M) -> Result<Value, JsonError> {
    let mut value = to_json(message)?;
    if let Value::Object(map) = &mut value {
        map.insert("@type".to_owned(), Value::String(M::type_url()));
    }
    Ok(value)
}

/// An accepted resource, kept encoded (see `AcceptedResource`).
fn any_json(any: &Any) -> Result<Value, JsonError> {
    match Resource::decode_any(any) {
        Ok(resource) => resource_json(&resource),
        // Unreachable in practice: these very bytes decoded when they were accepted.
        Err(error) => Ok(json!({ "@type": any.type_url, "error": error.to_string() })),
    }
}

fn resource_json(resource: &Resource) -> Result<Value, JsonError> {
    match resource {
        Resource::Listener(r) => typed(r.as_ref()),
        Resource::RouteConfiguration(r) => typed(r.as_ref()),
        Resource::Cluster(r) => typed(r.as_ref()),
        Resource::ClusterLoadAssignment(r) => typed(r.as_ref()),
        Resource::Secret(r) => typed(r.as_ref()),
    }
}

#[cfg(test)]
mod redact_tests {
    use serde_json::json;

    use super::redact;

    #[test]
    fn private_keys_and_passwords_are_redacted_wherever_they_are() {
        let mut dump = json!({
            "secrets": [{"tls_certificate": {
                "certificate_chain": {"filename": "/etc/cert.pem"},
                "private_key": {"inline_string": "-----BEGIN PRIVATE KEY-----"},
                "password": {"inline_bytes": "c2VjcmV0"},
            }}],
        });
        redact(&mut dump, false);
        assert_eq!(
            dump,
            json!({
                "secrets": [{"tls_certificate": {
                    "certificate_chain": {"filename": "/etc/cert.pem"},
                    "private_key": {"inline_string": "[redacted]"},
                    "password": {"inline_bytes": "[redacted]"},
                }}],
            })
        );
    }
}

#[cfg(test)]
mod secrets_tests;
