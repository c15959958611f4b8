//! The `SecretsConfigDump`: static, active and warming secrets, keys redacted; and clusters and
//! listeners waiting for their secrets shown as warming.

use std::{
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use envoy_types::pb::envoy::{
    config::bootstrap::v3::Bootstrap, extensions::transport_sockets::tls::v3::Secret,
};
use mesh_xds::{json::from_yaml, resource::ResourceType};
use serde_json::{Value, json};

use super::{Warming, config_dump};
use crate::xds_client::{AcceptedResource, XdsStatus};

const SECRETS: &str = "type.googleapis.com/envoy.admin.v3.SecretsConfigDump";
const SECRET: &str = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

fn secrets_section(dump: &Value) -> Option<&Value> {
    dump["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["@type"] == SECRETS)
}

#[test]
fn no_secrets_no_section() {
    let dump = config_dump(None, Some(&XdsStatus::default()), &Warming::default()).unwrap();
    assert_eq!(secrets_section(&dump), None);
}

#[test]
fn secrets_show_as_envoy_shows_them_with_keys_redacted() {
    let bootstrap: Bootstrap = from_yaml(
        "static_resources: {secrets: [{name: root, validation_context: {trusted_ca: \
         {filename: /etc/ca.pem}}}]}",
    )
    .unwrap();
    let client: Secret = from_yaml(
        "{name: client, tls_certificate: {certificate_chain: {inline_string: CERT}, \
         private_key: {inline_string: KEY}}}",
    )
    .unwrap();
    let mut status = XdsStatus::default();
    status.subscribed.insert(
        ResourceType::Secret,
        ["client", "ca"].map(str::to_owned).into(),
    );
    let secrets = status.types.entry(ResourceType::Secret).or_default();
    secrets.resources.insert(
        "client".to_owned(),
        AcceptedResource {
            version: "v7".to_owned(),
            resource: Arc::new(mesh_xds::resource::Resource::from(client).into_any()),
            updated: UNIX_EPOCH + Duration::from_millis(1_709_211_909_042),
        },
    );
    let dump = config_dump(Some(&bootstrap), Some(&status), &Warming::default()).unwrap();
    assert_eq!(
        secrets_section(&dump),
        Some(&json!({
            "@type": SECRETS,
            "static_secrets": [{
                "name": "root",
                "secret": {
                    "@type": SECRET,
                    "name": "root",
                    "validation_context": { "trusted_ca": { "filename": "/etc/ca.pem" } },
                },
            }],
            "dynamic_active_secrets": [{
                "name": "client",
                "version_info": "v7",
                "last_updated": "2024-02-29T13:05:09.042Z",
                "secret": {
                    "@type": SECRET,
                    "name": "client",
                    "tls_certificate": {
                        "certificate_chain": { "inline_string": "CERT" },
                        "private_key": { "inline_string": "[redacted]" },
                    },
                },
            }],
            "dynamic_warming_secrets": [{
                "name": "ca",
                "secret": { "@type": SECRET, "name": "ca" },
            }],
        }))
    );
}

#[test]
fn what_waits_for_its_secrets_shows_as_warming() {
    let mut status = XdsStatus::default();
    let accepted = |yaml: &str, kind: &str| -> AcceptedResource {
        let resource = match kind {
            "cluster" => mesh_xds::resource::Resource::from(
                from_yaml::<envoy_types::pb::envoy::config::cluster::v3::Cluster>(yaml).unwrap(),
            ),
            _ => mesh_xds::resource::Resource::from(
                from_yaml::<envoy_types::pb::envoy::config::listener::v3::Listener>(yaml).unwrap(),
            ),
        };
        AcceptedResource {
            version: "v1".to_owned(),
            resource: Arc::new(resource.into_any()),
            updated: UNIX_EPOCH,
        }
    };
    let clusters = status.types.entry(ResourceType::Cluster).or_default();
    for name in ["ready", "tls"] {
        clusters.resources.insert(
            name.to_owned(),
            accepted(&format!("{{name: {name}}}"), "cluster"),
        );
    }
    let listeners = status.types.entry(ResourceType::Listener).or_default();
    for name in ["http", "https"] {
        listeners.resources.insert(
            name.to_owned(),
            accepted(&format!("{{name: {name}}}"), "listener"),
        );
    }
    let warming = Warming {
        clusters: ["tls".to_owned()].into(),
        listeners: ["https".to_owned()].into(),
    };
    let dump = config_dump(None, Some(&status), &warming).unwrap();
    let section = |kind: &str| {
        dump["configs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["@type"] == format!("type.googleapis.com/envoy.admin.v3.{kind}"))
            .unwrap()
            .clone()
    };
    let names = |entries: &Value, key: &str| -> Vec<String> {
        entries
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[key]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let clusters = section("ClustersConfigDump");
    assert_eq!(
        names(&clusters["dynamic_active_clusters"], "cluster"),
        ["ready"]
    );
    assert_eq!(
        names(&clusters["dynamic_warming_clusters"], "cluster"),
        ["tls"]
    );
    let listeners = section("ListenersConfigDump")["dynamic_listeners"].clone();
    let states: Vec<(String, Vec<String>)> = listeners
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let mut keys: Vec<String> = l.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            (l["name"].as_str().unwrap().to_owned(), keys)
        })
        .collect();
    assert_eq!(
        states,
        [
            (
                "http".to_owned(),
                vec!["active_state".to_owned(), "name".to_owned()]
            ),
            (
                "https".to_owned(),
                vec!["name".to_owned(), "warming_state".to_owned()]
            ),
        ]
    );
    assert_eq!(
        listeners[1]["warming_state"]["listener"]["name"],
        json!("https")
    );
}
