//! Content hashes that serve as xDS versions.
//!
//! FNV-1a over the protobuf in a canonical form: stable across processes and releases (unlike
//! std's `DefaultHasher`), so a proxy that reconnects to another replica with
//! `initial_resource_versions` is not sent what it already has.
//!
//! The encoded bytes are not hashed as they are: prost writes a map field (a `Struct`'s
//! fields, `filter_metadata`) in the iteration order of its `HashMap`, which differs between
//! two equal maps, so equal resources would get different versions and be pushed again for
//! nothing. The hash walks the message instead, fields in number order, map entries in key
//! order, and the messages packed in `Any`s the same way.

use envoy_types::pb::google::protobuf::Any;
use prost_reflect::ReflectMessage;
use prost_reflect::{DynamicMessage, MapKey, Value};

/// Packed messages are hashed through their descriptors down to this depth, then as bytes;
/// translation nests two or three.
const MAX_DEPTH: usize = 16;

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// Feeds bytes into a running FNV-1a hash.
fn feed(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// The version of one resource.
#[cfg(test)]
pub(crate) fn resource_version(any: &Any) -> String {
    version_text(resource_hash(any))
}

/// The content hash of one resource, which its version spells out.
pub(crate) fn resource_hash(any: &Any) -> u64 {
    feed_any(OFFSET, &any.type_url, &any.value, 0)
}

/// A hash as a version.
pub(crate) fn version_text(hash: u64) -> String {
    format!("{hash:016x}")
}

/// The version of a whole response: every resource, in order, by its name and version.
pub(crate) fn response_version<'a>(
    resources: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let hash = resources.into_iter().fold(OFFSET, |hash, (name, version)| {
        // Each resource is framed, so that concatenations cannot collide.
        let hash = feed_bytes(feed(hash, b"["), name.as_bytes());
        feed(feed_bytes(hash, version.as_bytes()), b"]")
    });
    format!("{hash:016x}")
}

/// A packed message: its type, then its fields through its descriptor, or its bytes as they
/// are when the type is unknown or does not decode.
fn feed_any(hash: u64, type_url: &str, value: &[u8], depth: usize) -> u64 {
    let hash = feed_bytes(hash, type_url.as_bytes());
    let name = type_url.rsplit('/').next().unwrap_or_default();
    let message = (depth < MAX_DEPTH)
        .then(|| mesh_xds::json::message_descriptor(name).ok())
        .flatten()
        .and_then(|descriptor| DynamicMessage::decode(descriptor, value).ok());
    match message {
        Some(message) => feed_message(hash, &message, depth),
        None => feed_bytes(hash, value),
    }
}

fn feed_message(mut hash: u64, message: &DynamicMessage, depth: usize) -> u64 {
    if message.descriptor().full_name() == "google.protobuf.Any" {
        let field = |number| message.get_field_by_number(number);
        let type_url = field(1);
        let value = field(2);
        if let (Some(Value::String(url)), Some(Value::Bytes(bytes))) =
            (type_url.as_deref(), value.as_deref())
        {
            return feed(feed_any(feed(hash, b"{"), url, bytes, depth + 1), b"}");
        }
    }
    hash = feed(hash, b"{");
    // `fields` yields the fields that are set, in number order.
    for (field, value) in message.fields() {
        hash = feed(hash, &field.number().to_le_bytes());
        hash = feed_value(hash, value, depth);
    }
    feed(hash, b"}")
}

fn feed_value(hash: u64, value: &Value, depth: usize) -> u64 {
    match value {
        Value::Bool(v) => feed(hash, &[b'b', u8::from(*v)]),
        Value::I32(v) | Value::EnumNumber(v) => feed(feed(hash, b"i"), &v.to_le_bytes()),
        Value::I64(v) => feed(feed(hash, b"l"), &v.to_le_bytes()),
        Value::U32(v) => feed(feed(hash, b"u"), &v.to_le_bytes()),
        Value::U64(v) => feed(feed(hash, b"U"), &v.to_le_bytes()),
        Value::F32(v) => feed(feed(hash, b"f"), &v.to_bits().to_le_bytes()),
        Value::F64(v) => feed(feed(hash, b"d"), &v.to_bits().to_le_bytes()),
        Value::String(v) => feed_bytes(feed(hash, b"s"), v.as_bytes()),
        Value::Bytes(v) => feed_bytes(feed(hash, b"y"), v),
        Value::Message(message) => feed_message(hash, message, depth),
        Value::List(items) => {
            let hash = feed(feed(hash, b"["), &(items.len() as u64).to_le_bytes());
            let hash = items
                .iter()
                .fold(hash, |hash, item| feed_value(hash, item, depth));
            feed(hash, b"]")
        }
        Value::Map(map) => {
            let mut entries: Vec<(&MapKey, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let hash = feed(feed(hash, b"("), &(entries.len() as u64).to_le_bytes());
            let hash = entries.into_iter().fold(hash, |hash, (key, value)| {
                feed_value(feed_key(hash, key), value, depth)
            });
            feed(hash, b")")
        }
    }
}

fn feed_key(hash: u64, key: &MapKey) -> u64 {
    let value = match key {
        MapKey::Bool(v) => Value::Bool(*v),
        MapKey::I32(v) => Value::I32(*v),
        MapKey::I64(v) => Value::I64(*v),
        MapKey::U32(v) => Value::U32(*v),
        MapKey::U64(v) => Value::U64(*v),
        MapKey::String(v) => Value::String(v.clone()),
    };
    feed_value(hash, &value, 0)
}

/// Bytes with their length first, so that neighbours cannot run into each other.
fn feed_bytes(hash: u64, bytes: &[u8]) -> u64 {
    feed(feed(hash, &(bytes.len() as u64).to_le_bytes()), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_values() {
        assert_eq!(feed(OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(feed(OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn versions_follow_content() {
        let a = Any {
            type_url: "t".into(),
            value: vec![1],
        };
        let b = Any {
            type_url: "t".into(),
            value: vec![2],
        };
        assert_eq!(resource_version(&a), resource_version(&a.clone()));
        assert_ne!(resource_version(&a), resource_version(&b));
        let (va, vb) = (resource_version(&a), resource_version(&b));
        let (named_a, named_b) = (("a", va.as_str()), ("b", vb.as_str()));
        assert_ne!(
            response_version([named_a, named_b]),
            response_version([named_b, named_a])
        );
        // The name counts: the same content under another name is another response.
        assert_ne!(
            response_version([named_a]),
            response_version([("c", va.as_str())])
        );
        assert_eq!(response_version([]), "cbf29ce484222325");
    }

    /// Equal metadata whose maps were filled in different orders: prost encodes them apart.
    #[test]
    fn equal_maps_have_equal_versions_whatever_their_order() {
        use envoy_types::pb::{
            envoy::config::{cluster::v3::Cluster, core::v3::Metadata},
            google::protobuf::{Struct, Value as Field, value::Kind},
        };
        let text = |v: &str| Field {
            kind: Some(Kind::StringValue(v.to_string())),
        };
        let keys: Vec<String> = (0..16).map(|i| format!("key{i}")).collect();
        let cluster = |order: &mut dyn Iterator<Item = &String>| {
            let fields = order.map(|k| (k.clone(), text(k))).collect();
            let istio = Struct { fields };
            let metadata = Metadata {
                filter_metadata: [("istio".to_string(), istio)].into_iter().collect(),
                ..Metadata::default()
            };
            envoy_types::util::pack_any(Cluster {
                name: "c".to_string(),
                metadata: Some(metadata),
                ..Cluster::default()
            })
        };
        let forward = cluster(&mut keys.iter());
        let backward = cluster(&mut keys.iter().rev());
        assert_ne!(
            forward.value, backward.value,
            "the maps encode in different orders, or this test proves nothing"
        );
        assert_eq!(resource_version(&forward), resource_version(&backward));
        let other = cluster(&mut keys.iter().take(15));
        assert_ne!(resource_version(&forward), resource_version(&other));
    }
}
