//! Istio's metadata exchange over HTTP: each side tells the other who it is in two headers,
//! `x-envoy-peer-metadata-id` (the node id) and `x-envoy-peer-metadata` (base64 of a serialized
//! `google.protobuf.Struct` of node metadata). The outbound side adds them to requests and
//! reads them from responses; the inbound side does the opposite. Neither application ever
//! sees them.
//!
//! The headers come from the network: decoding is bounded in size, never panics, and anything
//! unreadable is simply an unknown peer.

use base64::{Engine, engine::general_purpose::STANDARD};
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use http::{HeaderMap, HeaderName, HeaderValue};
use mesh_common::well_known::{labels, node_metadata};
use prost::Message;

use super::workload::{canonical, keys};

/// The peer's node id.
pub const PEER_ID: HeaderName = HeaderName::from_static("x-envoy-peer-metadata-id");
/// The peer's metadata: base64 of a serialized `google.protobuf.Struct`.
pub const PEER_METADATA: HeaderName = HeaderName::from_static("x-envoy-peer-metadata");

/// The longest `x-envoy-peer-metadata` value read. Istio's are a few hundred bytes; a longer
/// one is not worth the work of decoding.
pub const MAX_ENCODED_LEN: usize = 4096;

/// The node metadata keys sent to peers: what their labels need, and no more.
const EXCHANGED: &[&str] = &[
    keys::NAME,
    node_metadata::NAMESPACE,
    node_metadata::WORKLOAD_NAME,
    keys::CLUSTER_ID,
    keys::OWNER,
    node_metadata::SERVICE_ACCOUNT,
    node_metadata::MESH_ID,
];

/// The labels sent to peers: the ones Istio's metric labels are made of.
const EXCHANGED_LABELS: &[&str] = &[
    labels::APP,
    labels::VERSION,
    canonical::NAME,
    canonical::REVISION,
    canonical::K8S_NAME,
    canonical::K8S_VERSION,
];

/// Our own pair of exchange headers, encoded once.
#[derive(Clone, Debug)]
pub struct PeerHeaders {
    id: HeaderValue,
    metadata: HeaderValue,
}

// === impl PeerHeaders ===

impl PeerHeaders {
    /// The headers of a proxy with node `id` and node `metadata`. `None` if the id cannot be a
    /// header value.
    pub fn new(id: &str, metadata: &Struct) -> Option<Self> {
        let id = HeaderValue::from_str(id).ok()?;
        // Base64 is always a valid header value.
        let metadata = HeaderValue::from_str(&encode(&exchanged(metadata))).ok()?;
        Some(Self { id, metadata })
    }

    /// Replaces any exchange headers in `headers` with ours.
    pub fn insert(&self, headers: &mut HeaderMap) {
        headers.insert(PEER_ID, self.id.clone());
        headers.insert(PEER_METADATA, self.metadata.clone());
    }

    /// Our `x-envoy-peer-metadata` value.
    pub fn metadata(&self) -> &HeaderValue {
        &self.metadata
    }
}

/// The subset of node `metadata` sent to peers.
pub fn exchanged(metadata: &Struct) -> Struct {
    let mut exchanged = Struct {
        fields: pick(metadata, EXCHANGED).collect(),
    };
    if let Some(Value {
        kind: Some(Kind::StructValue(all)),
    }) = metadata.fields.get(node_metadata::LABELS)
    {
        let labels = Struct {
            fields: pick(all, EXCHANGED_LABELS).collect(),
        };
        exchanged.fields.insert(
            node_metadata::LABELS.to_owned(),
            Value {
                kind: Some(Kind::StructValue(labels)),
            },
        );
    }
    exchanged
}

fn pick<'a>(from: &'a Struct, keys: &'a [&str]) -> impl Iterator<Item = (String, Value)> + 'a {
    keys.iter()
        .filter_map(|key| Some(((*key).to_owned(), from.fields.get(*key)?.clone())))
}

/// `metadata` as an `x-envoy-peer-metadata` value.
pub fn encode(metadata: &Struct) -> String {
    STANDARD.encode(metadata.encode_to_vec())
}

/// Reads an `x-envoy-peer-metadata` value; `None` when it is empty, too long, not base64, or not
/// a serialized `Struct`.
pub fn decode(value: &[u8]) -> Option<Struct> {
    if value.is_empty() || value.len() > MAX_ENCODED_LEN {
        return None;
    }
    let bytes = STANDARD.decode(value).ok()?;
    Struct::decode(bytes.as_slice()).ok()
}

/// Removes the exchange headers from `headers`, returning the metadata value if there was one.
pub fn take(headers: &mut HeaderMap) -> Option<HeaderValue> {
    headers.remove(PEER_ID);
    headers.remove(PEER_METADATA)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;
    use crate::stats::{
        fixtures::{metadata, text},
        workload::Workload,
    };

    fn reviews() -> Struct {
        metadata(
            &[
                ("NAME", "reviews-v2-5b7d"),
                ("NAMESPACE", "default"),
                ("WORKLOAD_NAME", "reviews-v2"),
                ("CLUSTER_ID", "Kubernetes"),
                ("INSTANCE_IPS", "198.18.0.12"),
            ],
            &[
                ("app", "reviews"),
                ("version", "v2"),
                ("pod-template-hash", "5b7d"),
            ],
        )
    }

    #[test]
    fn headers_round_trip_to_the_same_labels() {
        let ours = PeerHeaders::new(
            "sidecar~198.18.0.12~reviews-v2-5b7d.default~default.svc.cluster.local",
            &reviews(),
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(PEER_ID, HeaderValue::from_static("spoofed"));
        ours.insert(&mut headers);
        assert_eq!(
            headers[PEER_ID],
            "sidecar~198.18.0.12~reviews-v2-5b7d.default~default.svc.cluster.local"
        );
        let value = take(&mut headers).unwrap();
        assert!(headers.is_empty());
        let peer = decode(value.as_bytes()).unwrap();
        assert_eq!(
            Workload::from_metadata(&peer),
            Workload::from_metadata(&reviews())
        );
        // Only what labels need crosses to the peer.
        let mut sent: Vec<&str> = peer.fields.keys().map(String::as_str).collect();
        sent.sort_unstable();
        assert_eq!(
            sent,
            ["CLUSTER_ID", "LABELS", "NAME", "NAMESPACE", "WORKLOAD_NAME"]
        );
        let Some(Kind::StructValue(labels)) = &peer.fields["LABELS"].kind else {
            panic!("LABELS is not a struct");
        };
        assert_eq!(labels.fields.len(), 2);
        assert_eq!(labels.fields["app"], text("reviews"));
    }

    #[test]
    fn garbage_is_no_peer() {
        assert_eq!(decode(b"not base64!"), None);
        // Valid base64 of bytes that are not a Struct (a truncated length-delimited field).
        assert_eq!(decode(STANDARD.encode([0x0a, 0x7f, 0x01]).as_bytes()), None);
        assert_eq!(decode(b""), None);
    }

    #[test]
    fn long_values_are_not_decoded() {
        let mut big = reviews();
        big.fields.insert(
            "WORKLOAD_NAME".to_owned(),
            text(&"w".repeat(MAX_ENCODED_LEN)),
        );
        let encoded = encode(&big);
        assert!(encoded.len() > MAX_ENCODED_LEN);
        assert_eq!(decode(encoded.as_bytes()), None);
        let fits = encode(&reviews());
        assert!(decode(fits.as_bytes()).is_some());
    }
}
