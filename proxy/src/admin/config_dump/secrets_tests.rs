//! The `SecretsConfigDump`: static, active and warming secrets, keys redacted.

use std::{
    sync::Arc,
    time::{Duration, UNIX_EPOCH},
};

use envoy_types::pb::envoy::{
    config::bootstrap::v3::Bootstrap, extensions::transport_sockets::tls::v3::Secret,
};
use mesh_xds::{json::from_yaml, resource::ResourceType};
use serde_json::{Value, json};

use super::config_dump;
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
    let dump = config_dump(None, Some(&XdsStatus::default())).unwrap();
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
    let dump = config_dump(Some(&bootstrap), Some(&status)).unwrap();
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
