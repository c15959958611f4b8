//! The destination a captured connection was headed for before iptables redirected it.

use std::io;
use std::net::SocketAddr;

use socket2::SockRef;
use tokio::net::TcpStream;

/// Where the proxy learns a connection's original destination.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OriginalDst {
    /// `SO_ORIGINAL_DST` on the accepted socket: the real thing, behind iptables `REDIRECT`.
    #[default]
    Socket,
    /// Every connection claims this destination: for tests that run the proxy without iptables.
    Fixed(SocketAddr),
}

// === impl OriginalDst ===

impl OriginalDst {
    /// The original destination of `stream`, an accepted connection.
    pub fn lookup(&self, stream: &TcpStream) -> io::Result<SocketAddr> {
        match self {
            Self::Socket => original_dst(stream),
            Self::Fixed(addr) => Ok(*addr),
        }
    }
}

/// Reads `SO_ORIGINAL_DST` (or `IP6T_SO_ORIGINAL_DST` on an IPv6 socket) from `stream`.
///
/// Fails with `ENOENT` on a connection that conntrack did not redirect.
pub fn original_dst(stream: &TcpStream) -> io::Result<SocketAddr> {
    let socket = SockRef::from(stream);
    let addr = if stream.local_addr()?.is_ipv4() {
        socket.original_dst()?
    } else {
        socket.original_dst_ipv6()?
    };
    addr.as_socket().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "SO_ORIGINAL_DST returned an address that is not IPv4 or IPv6",
        )
    })
}
