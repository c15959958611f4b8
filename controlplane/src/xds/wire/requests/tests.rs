use std::collections::VecDeque;

use bytes::{BufMut, Bytes};
use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
use futures_util::StreamExt;
use hyper::body::Frame;

use super::*;

/// A request body that hands out `chunks` one frame each.
struct Chunks(VecDeque<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }
}

fn requests(chunks: Vec<Bytes>) -> Requests<DiscoveryRequest> {
    Requests::new(tonic::body::Body::new(Chunks(chunks.into())))
}

fn framed(request: &DiscoveryRequest) -> Vec<u8> {
    let mut out = Vec::new();
    out.put_u8(0);
    out.put_u32(request.encoded_len() as u32);
    request.encode(&mut out).expect("a Vec grows");
    out
}

fn request(version: &str, names: usize) -> DiscoveryRequest {
    DiscoveryRequest {
        version_info: version.into(),
        resource_names: (0..names)
            .map(|i| format!("outbound|80||svc-{i}"))
            .collect(),
        ..DiscoveryRequest::default()
    }
}

#[tokio::test]
async fn requests_split_anyhow_are_read_and_the_buffer_let_go_between_them() {
    let (first, second) = (request("1", 300), request("2", 3));
    // Each cut into chunks that split its prefix and its message.
    let chunks: Vec<Bytes> = [framed(&first), framed(&second)]
        .iter()
        .flat_map(|message| message.chunks(7).map(Bytes::copy_from_slice))
        .collect();
    let mut stream = requests(chunks);
    assert_eq!(stream.next().await.unwrap().unwrap(), first);
    assert_eq!(stream.buf.capacity(), 0, "nothing of the next had arrived");
    assert_eq!(stream.next().await.unwrap().unwrap(), second);
    assert_eq!(stream.buf.capacity(), 0);
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn a_request_right_behind_another_is_kept() {
    let (first, second) = (request("1", 2), request("2", 2));
    let mut bytes = framed(&first);
    bytes.extend(framed(&second));
    let mut stream = requests(vec![Bytes::from(bytes)]);
    assert_eq!(stream.next().await.unwrap().unwrap(), first);
    assert_eq!(stream.buf.len(), framed(&second).len());
    assert_eq!(stream.next().await.unwrap().unwrap(), second);
    assert!(stream.next().await.is_none());
}

async fn error(chunks: Vec<Bytes>) -> Status {
    let mut stream = requests(chunks);
    let status = stream.next().await.unwrap().unwrap_err();
    assert!(
        stream.next().await.is_none(),
        "the stream ends with its error"
    );
    status
}

#[tokio::test]
async fn what_cannot_be_read_ends_the_stream_with_a_status_saying_why() {
    let mut compressed = framed(&request("1", 1));
    compressed[0] = 1;
    let status = error(vec![Bytes::from(compressed)]).await;
    assert_eq!(status.code(), tonic::Code::Unimplemented);
    assert_eq!(
        status.message(),
        "compressed requests are not supported: send them uncompressed"
    );

    let too_long = [0u8, 0x00, 0x40, 0x00, 0x01];
    let status = error(vec![Bytes::copy_from_slice(&too_long)]).await;
    assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "a request of 4194305 bytes is over the limit of 4194304 bytes"
    );

    let whole = framed(&request("1", 4));
    let status = error(vec![Bytes::copy_from_slice(&whole[..whole.len() - 1])]).await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        status.message(),
        "the request stream ended inside a message"
    );

    let garbage = [0u8, 0, 0, 0, 2, 0xff, 0xff];
    let status = error(vec![Bytes::copy_from_slice(&garbage)]).await;
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().starts_with("malformed request: "),
        "{}",
        status.message()
    );
}
