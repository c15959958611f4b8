//! ADS on the wire: the gRPC service of both variants, with responses framed around the shared
//! encodings of their resources.
//!
//! tonic's generated service would encode each response into a buffer of its stream, copying
//! every resource once per proxy, and the buffer keeps the capacity of the largest response
//! for as long as the stream lives: a thousand proxies, each holding a copy of the whole mesh.
//! Here a response is a small head (version, type, nonce) and handles to the encodings that
//! every proxy shares; its body hands those handles to HTTP/2 as they are, when the proxy has
//! room for them.

mod requests;

use std::{
    collections::VecDeque,
    convert::Infallible,
    future::{Ready, ready},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::{BufMut, Bytes, BytesMut};
use envoy_types::pb::envoy::service::discovery::v3::{
    self as discovery, DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest,
    DiscoveryResponse,
};
use hyper::body::{Body, Frame, SizeHint};
use prost::{
    Message,
    encoding::{WireType, encode_key, encode_varint, encoded_len_varint},
};
use tokio::sync::mpsc;
use tonic::{Status, codegen::Service, server::NamedService};

pub use self::requests::{MAX_REQUEST, Requests};
use super::{encoded::Encoded, server::XdsServer};

/// The gRPC service name Envoy calls.
pub const SERVICE: &str = "envoy.service.discovery.v3.AggregatedDiscoveryService";
const SOTW_PATH: &str =
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const DELTA_PATH: &str =
    "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources";

/// The field both responses carry their resources in.
const RESOURCES_FIELD: u32 = 2;

/// The size of the chunks a response is framed in. Each chunk is an HTTP/2 frame queued for
/// the proxy, and h2 keeps room for as many queued frames as a connection ever had: a frame
/// per resource would leave every connection that room for thousands.
const CHUNK: usize = 64 * 1024;

/// A response on its way: its message without resources, and the resources it carries.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing<M> {
    /// The response, its resources left out.
    pub message: M,
    /// What it carries, in order.
    pub resources: Vec<Arc<Encoded>>,
}

/// How a response type carries one resource.
pub trait Carries: Message + Default + Sized + 'static {
    /// Writes the head of `resource`'s entry (all but its encoding) into `head`.
    fn entry_head(resource: &Encoded, head: &mut BytesMut);
    /// `message` with `resources` in it, as a plain message.
    fn with_resources(message: Self, resources: &[Arc<Encoded>]) -> Self;
}

/// The ADS service for tonic's router.
#[derive(Clone, Debug)]
pub struct AdsService {
    server: XdsServer,
}

/// A response stream's body: the responses of the stream task, framed, then the status.
struct ResponseBody<M> {
    responses: mpsc::Receiver<Result<Outgoing<M>, Status>>,
    /// The response being framed, a chunk at a time as the proxy takes them.
    framing: Option<Framing<M>>,
    chunks: VecDeque<Bytes>,
    done: bool,
}

/// A response being framed: how far it got.
struct Framing<M> {
    outgoing: Outgoing<M>,
    /// The next resource to frame.
    next: usize,
    started: bool,
}

// === impl Outgoing ===

impl<M: Carries> Outgoing<M> {
    /// The response as a plain message, resources copied in.
    pub fn into_message(self) -> M {
        M::with_resources(self.message, &self.resources)
    }

    /// The gRPC message (length-prefixed), in chunks.
    #[cfg(test)]
    fn chunks(self) -> VecDeque<Bytes> {
        let mut framing = Framing::new(self);
        let mut chunks = VecDeque::new();
        while !framing.fill(&mut chunks) {}
        chunks
    }
}

// === impl Framing ===

impl<M: Carries> Framing<M> {
    fn new(outgoing: Outgoing<M>) -> Self {
        Self {
            outgoing,
            next: 0,
            started: false,
        }
    }

    /// The length of the whole message.
    fn length(&self) -> usize {
        let mut entry = BytesMut::new();
        let entries: usize = (self.outgoing.resources.iter())
            .map(|resource| {
                entry.clear();
                M::entry_head(resource, &mut entry);
                entry.len() + resource.wire().len()
            })
            .sum();
        self.outgoing.message.encoded_len() + entries
    }

    /// Frames the next chunk (about [`CHUNK`] long) into `chunks`; a resource longer than that
    /// goes as its shared encoding, not copied. Returns whether the message is complete.
    fn fill(&mut self, chunks: &mut VecDeque<Bytes>) -> bool {
        let mut chunk = BytesMut::with_capacity(CHUNK);
        if !self.started {
            self.started = true;
            chunk.put_u8(0); // not compressed
            // Longer than 4 GiB cannot be: tonic's decoder refuses far less.
            chunk.put_u32(u32::try_from(self.length()).unwrap_or(u32::MAX));
            self.outgoing.message.encode_raw(&mut chunk);
        }
        let resources = &self.outgoing.resources;
        while let Some(resource) = resources.get(self.next) {
            self.next += 1;
            M::entry_head(resource, &mut chunk);
            if resource.wire().len() >= CHUNK {
                chunks.push_back(chunk.freeze());
                chunks.push_back(resource.wire().clone());
                return self.next == resources.len();
            }
            chunk.put_slice(resource.wire());
            if chunk.len() >= CHUNK {
                break;
            }
        }
        if !chunk.is_empty() {
            chunks.push_back(chunk.freeze());
        }
        self.next == resources.len()
    }
}

impl<M> std::ops::Deref for Outgoing<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.message
    }
}

// === impl Carries ===

impl Carries for DiscoveryResponse {
    fn entry_head(resource: &Encoded, head: &mut BytesMut) {
        // `resources` holds the `Any`s themselves.
        encode_key(RESOURCES_FIELD, WireType::LengthDelimited, head);
        encode_varint(resource.wire().len() as u64, head);
    }

    fn with_resources(mut message: Self, resources: &[Arc<Encoded>]) -> Self {
        message.resources = resources.iter().map(|r| r.any()).collect();
        message
    }
}

impl Carries for DeltaDiscoveryResponse {
    fn entry_head(resource: &Encoded, head: &mut BytesMut) {
        // `resources` holds `Resource`s: version (1), the `Any` (2), name (3); the `Any` last
        // here, so that its shared encoding ends the entry.
        let field = |number: u32, length: usize| {
            encoded_len_varint(u64::from(number << 3)) + encoded_len_varint(length as u64) + length
        };
        let (name, version, wire) = (resource.name(), resource.version(), resource.wire());
        let length = field(1, version.len()) + field(3, name.len()) + field(2, wire.len());
        encode_key(RESOURCES_FIELD, WireType::LengthDelimited, head);
        encode_varint(length as u64, head);
        for (number, text) in [(1, version), (3, name)] {
            encode_key(number, WireType::LengthDelimited, head);
            encode_varint(text.len() as u64, head);
            head.put_slice(text.as_bytes());
        }
        encode_key(2, WireType::LengthDelimited, head);
        encode_varint(wire.len() as u64, head);
    }

    fn with_resources(mut message: Self, resources: &[Arc<Encoded>]) -> Self {
        message.resources = resources
            .iter()
            .map(|r| discovery::Resource {
                name: r.name().to_owned(),
                version: r.version().to_owned(),
                resource: Some(r.any()),
                ..discovery::Resource::default()
            })
            .collect();
        message
    }
}

// === impl AdsService ===

impl AdsService {
    /// The service answering both variants with `server`.
    pub fn new(server: XdsServer) -> Self {
        Self { server }
    }
}

impl Service<http::Request<tonic::body::Body>> for AdsService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let body = request.into_body();
        let response = match path.as_str() {
            SOTW_PATH => respond(self.server.sotw(Requests::<DiscoveryRequest>::new(body))),
            DELTA_PATH => respond(
                self.server
                    .delta(Requests::<DeltaDiscoveryRequest>::new(body)),
            ),
            _ => Status::unimplemented(format!("{path} is not served")).into_http(),
        };
        ready(Ok(response))
    }
}

impl NamedService for AdsService {
    const NAME: &'static str = SERVICE;
}

/// The streaming response whose body frames `responses`.
fn respond<M: Carries + Send + Unpin>(
    responses: mpsc::Receiver<Result<Outgoing<M>, Status>>,
) -> http::Response<tonic::body::Body> {
    let body = ResponseBody {
        responses,
        framing: None,
        chunks: VecDeque::new(),
        done: false,
    };
    let mut response = http::Response::new(tonic::body::Body::new(body));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    response
}

// === impl ResponseBody ===

impl<M: Carries + Send + Unpin> Body for ResponseBody<M> {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        loop {
            if let Some(chunk) = self.chunks.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            let this = &mut *self;
            if let Some(framing) = this.framing.as_mut() {
                if framing.fill(&mut this.chunks) {
                    this.framing = None;
                }
                continue;
            }
            break;
        }
        if self.done {
            return Poll::Ready(None);
        }
        // The next response is framed only now that the proxy took the last one.
        let status = match std::task::ready!(self.responses.poll_recv(cx)) {
            Some(Ok(response)) => {
                let mut framing = Framing::new(response);
                let this = &mut *self;
                if framing.fill(&mut this.chunks) {
                    this.framing = None;
                } else {
                    this.framing = Some(framing);
                }
                let chunk = this.chunks.pop_front().unwrap_or_default();
                return Poll::Ready(Some(Ok(Frame::data(chunk))));
            }
            Some(Err(status)) => status,
            None => Status::ok(""),
        };
        self.done = true;
        let mut trailers = http::HeaderMap::new();
        // A status message that is not a valid header value is left out; the code stays.
        if status.add_header(&mut trailers).is_err() {
            Status::new(status.code(), "")
                .add_header(&mut trailers)
                .ok();
        }
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.chunks.is_empty() && self.framing.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests;
