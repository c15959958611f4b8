//! One client connection of the load generator, for each protocol: HTTP/1.1, HTTP/2 with prior
//! knowledge (h2c), gRPC unary calls over h2c, or a raw TCP echo.
//!
//! Connections are hyper's low-level client connections, one per task, so that the generator
//! decides exactly how many connections are open and what each one sends (a pooled client
//! would open and reuse connections as it sees fit).

use std::net::SocketAddr;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// The bytes one TCP echo exchange sends and expects back.
pub const ECHO_PAYLOAD: &[u8; 64] =
    b"mesh.rs bench: sixty-four bytes that the echo server returns...\n";

/// The path of the gRPC method the load generator calls.
pub const GRPC_PATH: &str = "/mesh.bench.Echo/Unary";

/// One gRPC message frame (uncompressed flag, big-endian length, then the message): the
/// request of every call, which the upstream sends back as the response.
pub const GRPC_FRAME: &[u8] = b"\x00\x00\x00\x00\x13\x0a\x11mesh.rs bench rpc";

/// What the load generator speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP/1.1, one request at a time per connection.
    Http1,
    /// HTTP/2 without TLS, with prior knowledge; one stream at a time per connection.
    H2c,
    /// gRPC unary calls over h2c: a POST of one message frame, answered with one frame and
    /// `grpc-status: 0` in the trailers; one call at a time per connection.
    Grpc,
    /// A raw TCP connection: each request is 64 bytes written and the same 64 read back.
    Tcp,
}

/// An open connection, ready to send one request.
#[derive(Debug)]
pub enum Connection {
    /// An HTTP/1.1 connection.
    Http1(http1::SendRequest<Empty<Bytes>>, String),
    /// An HTTP/2 connection.
    H2c(http2::SendRequest<Empty<Bytes>>, String),
    /// An HTTP/2 connection for gRPC calls.
    Grpc(http2::SendRequest<Full<Bytes>>, String),
    /// A TCP connection to an echo server.
    Tcp(TcpStream),
}

// === impl Protocol ===

impl Protocol {
    /// The name the report uses.
    pub fn label(self) -> &'static str {
        match self {
            Protocol::Http1 => "HTTP/1.1",
            Protocol::H2c => "h2c",
            Protocol::Grpc => "gRPC unary",
            Protocol::Tcp => "TCP echo",
        }
    }

    /// A name fit for a file name.
    pub fn slug(self) -> &'static str {
        match self {
            Protocol::Http1 => "http1",
            Protocol::H2c => "h2c",
            Protocol::Grpc => "grpc",
            Protocol::Tcp => "tcp",
        }
    }
}

// === impl Connection ===

impl Connection {
    /// Connects to `addr` and completes the protocol's handshake. The connection's I/O runs
    /// in a task of the current runtime.
    pub async fn open(addr: SocketAddr, protocol: Protocol) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        // Requests are small and latency is the point: never wait to fill a segment.
        stream.set_nodelay(true)?;
        match protocol {
            Protocol::Http1 => {
                let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(connection);
                Ok(Connection::Http1(sender, addr.to_string()))
            }
            Protocol::H2c => {
                let (sender, connection) =
                    http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
                tokio::spawn(connection);
                Ok(Connection::H2c(sender, format!("http://{addr}/")))
            }
            Protocol::Grpc => {
                let (sender, connection) =
                    http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await?;
                tokio::spawn(connection);
                Ok(Connection::Grpc(
                    sender,
                    format!("http://{addr}{GRPC_PATH}"),
                ))
            }
            Protocol::Tcp => Ok(Connection::Tcp(stream)),
        }
    }

    /// Sends one request and reads the whole answer; an answer other than 200 (or the echo
    /// of the payload) is an error.
    pub async fn call(&mut self) -> anyhow::Result<()> {
        match self {
            Connection::Http1(sender, host) => {
                sender.ready().await?;
                let request = Request::get("/")
                    .header(header::HOST, host.as_str())
                    .body(Empty::new())?;
                let response = sender.send_request(request).await?;
                check_response(response).await
            }
            Connection::H2c(sender, uri) => {
                sender.ready().await?;
                let request = Request::get(uri.as_str()).body(Empty::new())?;
                let response = sender.send_request(request).await?;
                check_response(response).await
            }
            Connection::Grpc(sender, uri) => {
                sender.ready().await?;
                let request = Request::post(uri.as_str())
                    .header(header::CONTENT_TYPE, "application/grpc")
                    .header(header::TE, "trailers")
                    .body(Full::new(Bytes::from_static(GRPC_FRAME)))?;
                let response = sender.send_request(request).await?;
                check_grpc(response).await
            }
            Connection::Tcp(stream) => {
                stream.write_all(ECHO_PAYLOAD).await?;
                let mut echoed = [0u8; ECHO_PAYLOAD.len()];
                stream.read_exact(&mut echoed).await?;
                if &echoed != ECHO_PAYLOAD {
                    bail!("the echo differs from what was sent");
                }
                Ok(())
            }
        }
    }
}

async fn check_response(response: hyper::Response<hyper::body::Incoming>) -> anyhow::Result<()> {
    let status = response.status();
    // Read the body to its end even on an error status, so the connection stays usable.
    response.into_body().collect().await?;
    if status != StatusCode::OK {
        bail!("answered {status}");
    }
    Ok(())
}

/// A gRPC call succeeded when it answered 200 with the echoed frame and `grpc-status: 0` in
/// the trailers (an error status in the headers alone, a "trailers-only" answer, fails).
async fn check_grpc(response: hyper::Response<hyper::body::Incoming>) -> anyhow::Result<()> {
    let status = response.status();
    let collected = response.into_body().collect().await?;
    if status != StatusCode::OK {
        bail!("answered {status}");
    }
    let grpc_status = collected
        .trailers()
        .and_then(|trailers: &HeaderMap| trailers.get("grpc-status"))
        .map(|value| value.as_bytes().to_vec());
    if grpc_status.as_deref() != Some(b"0") {
        bail!("grpc-status {grpc_status:?} in the trailers");
    }
    if collected.to_bytes() != GRPC_FRAME {
        bail!("the answer differs from the message sent");
    }
    Ok(())
}
