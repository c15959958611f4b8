//! An upstream connection as the cluster asks for it: a TCP socket with the cluster's socket
//! options, in TLS when the cluster has a `transport_socket`. Shared by the HTTP pools and the
//! TCP proxy, so that both connect, and fail, alike.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
};

use hyper_util::client::legacy::connect::{Connected, Connection};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::client::TlsStream;

use super::keepalive::set_keepalive;
use crate::{
    config::TcpKeepalive,
    tls::{Alpn, UpstreamTls},
};

/// A connected upstream socket, plain or in TLS.
#[derive(Debug)]
pub enum UpstreamStream {
    /// Plaintext.
    Plain(TcpStream),
    /// TLS, handshake done.
    Tls(Box<TlsStream<TcpStream>>),
}

/// Connects to `address`: TCP, then `TCP_NODELAY` and `keepalive`, then the TLS handshake of
/// `tls` offering `alpn`. Any step failing fails the connection, as in Envoy: a socket option
/// the system refuses, or a handshake error. The caller bounds it by the connect timeout, which
/// in Envoy covers the handshake too.
pub async fn connect(
    address: SocketAddr,
    keepalive: Option<&TcpKeepalive>,
    tls: Option<&UpstreamTls>,
    alpn: Alpn,
) -> io::Result<UpstreamStream> {
    let stream = TcpStream::connect(address).await?;
    // Small writes of interactive protocols must not wait for Nagle's algorithm.
    stream.set_nodelay(true)?;
    if let Some(keepalive) = keepalive {
        set_keepalive(&stream, keepalive).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("tcp keep-alive not set on the upstream socket: {e}"),
            )
        })?;
    }
    match tls {
        None => Ok(UpstreamStream::Plain(stream)),
        Some(tls) => Ok(UpstreamStream::Tls(Box::new(
            tls.handshake(stream, address, alpn).await?,
        ))),
    }
}

// === impl UpstreamStream ===

impl UpstreamStream {
    /// The TCP socket under it.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(tcp) => tcp,
            Self::Tls(tls) => tls.get_ref().0,
        }
    }

    /// The ALPN protocol the server chose, if any.
    pub fn alpn(&self) -> Option<&[u8]> {
        match self {
            Self::Plain(_) => None,
            Self::Tls(tls) => tls.get_ref().1.alpn_protocol(),
        }
    }
}

impl From<TcpStream> for UpstreamStream {
    fn from(tcp: TcpStream) -> Self {
        Self::Plain(tcp)
    }
}

impl Connection for UpstreamStream {
    fn connected(&self) -> Connected {
        let connected = self.tcp().connected();
        if self.alpn() == Some(b"h2") {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
