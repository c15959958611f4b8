//! The requests of an ADS stream, read from its body.
//!
//! tonic's `Streaming` keeps its decode buffer at the capacity of the largest request its
//! stream ever carried, for as long as the stream lives, and a state-of-the-world EDS request
//! names every cluster of the mesh. Here the buffer is let go whenever a request has been read
//! whole and nothing of the next one has arrived, which between requests is the rule: an idle
//! stream holds no buffer at all.

use std::{
    marker::PhantomData,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Buf, BytesMut};
use futures_util::Stream;
use hyper::body::Body;
use prost::Message;
use tonic::Status;

/// The largest request read, as tonic's default: a longer one ends the stream.
pub const MAX_REQUEST: usize = 4 * 1024 * 1024;

/// A gRPC message's prefix: a compression flag and a 32-bit big-endian length.
const PREFIX: usize = 5;

/// The messages of a gRPC request body, decoded as `T`.
#[derive(Debug)]
pub struct Requests<T> {
    body: tonic::body::Body,
    /// What arrived of the next message; empty, with no allocation, between messages.
    buf: BytesMut,
    ended: bool,
    message: PhantomData<fn() -> T>,
}

// === impl Requests ===

impl<T: Message + Default> Requests<T> {
    /// The requests `body` carries.
    pub fn new(body: tonic::body::Body) -> Self {
        Self {
            body,
            buf: BytesMut::new(),
            ended: false,
            message: PhantomData,
        }
    }

    /// The next message, if it arrived whole.
    fn next_message(&mut self) -> Result<Option<T>, Status> {
        let Some(prefix) = self.buf.get(..PREFIX) else {
            return Ok(None);
        };
        if prefix[0] != 0 {
            return Err(Status::unimplemented(
                "compressed requests are not supported: send them uncompressed",
            ));
        }
        let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
        if len > MAX_REQUEST {
            return Err(Status::resource_exhausted(format!(
                "a request of {len} bytes is over the limit of {MAX_REQUEST} bytes"
            )));
        }
        let whole = PREFIX + len;
        if self.buf.len() < whole {
            self.buf.reserve(whole - self.buf.len());
            return Ok(None);
        }
        let mut message = self.buf.split_to(whole);
        if self.buf.is_empty() {
            // Drops this stream's hold on the allocation: it goes with `message`.
            self.buf = BytesMut::new();
        }
        message.advance(PREFIX);
        T::decode(message.freeze())
            .map(Some)
            .map_err(|error| Status::invalid_argument(format!("malformed request: {error}")))
    }

    /// Ends the stream with `status`.
    fn fail(&mut self, status: Status) -> Poll<Option<Result<T, Status>>> {
        self.ended = true;
        self.buf = BytesMut::new();
        Poll::Ready(Some(Err(status)))
    }
}

impl<T: Message + Default> Stream for Requests<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match this.next_message() {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(status) => return this.fail(status),
            }
            if this.ended {
                if this.buf.is_empty() {
                    return Poll::Ready(None);
                }
                return this.fail(Status::invalid_argument(
                    "the request stream ended inside a message",
                ));
            }
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    // Trailers carry nothing a request needs.
                    if let Ok(data) = frame.into_data() {
                        this.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(status)) => return this.fail(status),
                None => this.ended = true,
            }
        }
    }
}

#[cfg(test)]
mod tests;
