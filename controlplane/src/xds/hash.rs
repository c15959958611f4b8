//! Content hashes that serve as xDS versions.
//!
//! FNV-1a over the encoded protobuf: stable across processes and releases (unlike std's
//! `DefaultHasher`), so a proxy that reconnects to another replica with
//! `initial_resource_versions` is not sent what it already has.

use envoy_types::pb::google::protobuf::Any;
use prost::Message;

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
pub(crate) fn resource_version(any: &Any) -> String {
    format!("{:016x}", feed(OFFSET, &any.encode_to_vec()))
}

/// The version of a whole response: every resource, in order, with its name.
pub(crate) fn response_version<'a>(resources: impl IntoIterator<Item = &'a Any>) -> String {
    let hash = resources.into_iter().fold(OFFSET, |hash, any| {
        // The length separates resources, so that concatenations cannot collide.
        let bytes = any.encode_to_vec();
        feed(feed(hash, &(bytes.len() as u64).to_le_bytes()), &bytes)
    });
    format!("{hash:016x}")
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
        assert_ne!(response_version([&a, &b]), response_version([&b, &a]));
        assert_eq!(response_version([]), "cbf29ce484222325");
    }
}
