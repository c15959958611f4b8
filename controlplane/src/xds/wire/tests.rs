use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use http_body_util::BodyExt as _;
use mesh_xds::{Resource, ResourceType};
use pretty_assertions::assert_eq;

use super::*;

/// A small cluster (copied into the chunk) and one longer than a chunk (sent as it is).
fn resources() -> Vec<Arc<Encoded>> {
    let cluster = |name: &str, stat: usize| {
        Encoded::new(Resource::from(Cluster {
            name: name.to_string(),
            alt_stat_name: "s".repeat(stat),
            ..Cluster::default()
        }))
    };
    vec![cluster("small", 1), cluster("large", CHUNK + 1)]
}

/// The gRPC message the chunks make: its length prefix checked, the message decoded.
fn decode<M: Message + Default>(chunks: &VecDeque<Bytes>) -> M {
    let bytes: Vec<u8> = chunks.iter().flat_map(|c| c.iter().copied()).collect();
    assert_eq!(bytes[0], 0, "not compressed");
    let length = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    assert_eq!(length, bytes.len() - 5);
    M::decode(&bytes[5..]).unwrap()
}

#[test]
fn a_state_of_the_world_response_frames_to_its_message_and_shares_large_resources() {
    let outgoing = Outgoing {
        message: DiscoveryResponse {
            version_info: "v1".into(),
            type_url: ResourceType::Cluster.type_url().into(),
            nonce: "7".into(),
            ..DiscoveryResponse::default()
        },
        resources: resources(),
    };
    let chunks = outgoing.clone().chunks();
    let decoded: DiscoveryResponse = decode(&chunks);
    assert_eq!(decoded, outgoing.clone().into_message());
    assert_eq!(decoded.resources.len(), 2);
    // The large resource goes out as the shared encoding itself, not a copy.
    assert_eq!(chunks.len(), 2);
    let large = outgoing.resources[1].wire();
    assert_eq!(chunks[1].as_ptr(), large.as_ptr());
    assert_eq!(chunks[1].len(), large.len());
}

#[test]
fn a_delta_response_frames_to_its_message() {
    let outgoing = Outgoing {
        message: DeltaDiscoveryResponse {
            system_version_info: "v2".into(),
            type_url: ResourceType::Cluster.type_url().into(),
            removed_resources: vec!["gone".into()],
            nonce: "8".into(),
            ..DeltaDiscoveryResponse::default()
        },
        resources: resources(),
    };
    let chunks = outgoing.clone().chunks();
    let decoded: DeltaDiscoveryResponse = decode(&chunks);
    assert_eq!(decoded, outgoing.clone().into_message());
    let names: Vec<&str> = decoded.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["small", "large"]);
    assert_eq!(
        decoded.resources[1].version,
        outgoing.resources[1].version()
    );
    assert_eq!(chunks[1].as_ptr(), outgoing.resources[1].wire().as_ptr());
}

#[tokio::test]
async fn the_body_sends_each_response_then_the_status() {
    let (tx, responses) = mpsc::channel(1);
    let mut body = ResponseBody::<DiscoveryResponse> {
        responses,
        framing: None,
        chunks: VecDeque::new(),
        done: false,
    };
    let outgoing = Outgoing {
        message: DiscoveryResponse {
            nonce: "1".into(),
            ..DiscoveryResponse::default()
        },
        resources: resources(),
    };
    tx.send(Ok(outgoing.clone())).await.unwrap();
    drop(tx);
    let mut data = VecDeque::new();
    let trailers = loop {
        let frame = body.frame().await.unwrap().unwrap();
        match frame.into_data() {
            Ok(chunk) => data.push_back(chunk),
            Err(frame) => break frame.into_trailers().unwrap(),
        }
    };
    assert_eq!(decode::<DiscoveryResponse>(&data), outgoing.into_message());
    assert_eq!(trailers.get("grpc-status").unwrap(), "0");
    assert!(body.frame().await.is_none());
    assert!(body.is_end_stream());
}

#[tokio::test]
async fn an_error_ends_the_body_with_its_status() {
    let (tx, responses) = mpsc::channel(1);
    let mut body = ResponseBody::<DeltaDiscoveryResponse> {
        responses,
        framing: None,
        chunks: VecDeque::new(),
        done: false,
    };
    tx.send(Err(Status::invalid_argument("no node")))
        .await
        .unwrap();
    let trailers = body
        .frame()
        .await
        .unwrap()
        .unwrap()
        .into_trailers()
        .unwrap();
    assert_eq!(trailers.get("grpc-status").unwrap(), "3");
    // Percent-encoded, as gRPC carries status messages.
    assert_eq!(trailers.get("grpc-message").unwrap(), "no%20node");
    assert!(body.frame().await.is_none());
}

#[test]
fn many_small_resources_go_in_few_chunks() {
    let resources: Vec<Arc<Encoded>> = (0..2_000)
        .map(|n| {
            Encoded::new(Resource::from(Cluster {
                name: format!("cluster-{n:04}"),
                alt_stat_name: "s".repeat(100),
                ..Cluster::default()
            }))
        })
        .collect();
    let wire: usize = resources.iter().map(|r| r.wire().len()).sum();
    let outgoing = Outgoing {
        message: DiscoveryResponse::default(),
        resources,
    };
    let chunks = outgoing.clone().chunks();
    assert_eq!(
        decode::<DiscoveryResponse>(&chunks),
        outgoing.into_message()
    );
    // Chunks of 64 KiB (and the resource that passed it), not a frame per resource.
    let last = chunks.len() - 1;
    for (at, chunk) in chunks.iter().enumerate() {
        assert!(chunk.len() < CHUNK + 256, "chunk {at}: {}", chunk.len());
        assert!(
            at == last || chunk.len() >= CHUNK,
            "chunk {at}: {}",
            chunk.len()
        );
    }
    assert_eq!(chunks.len(), wire / CHUNK + 1);
}
