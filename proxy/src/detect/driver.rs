//! Detection over a live stream: read until [`detect`] decides, the buffer fills, the peer stops
//! sending, or the timeout passes.
//!
//! The driver reads rather than peeks: `MSG_PEEK` only works on sockets and cannot wait for
//! *more* bytes without spinning, whereas reading into a bounded buffer works on any stream and
//! the bytes are replayed by [`PrefixedStream`].

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::time::Instant;

use super::{Detection, OPAQUE_PORTS, PrefixedStream, Protocol, ProtocolHint, detect};

/// Bounds on detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DetectConfig {
    /// How long to wait for a decisive prefix before treating the connection as opaque: a
    /// server-first protocol on an unexpected port sends nothing until the server speaks.
    pub timeout: Duration,
    /// The most bytes read for detection; a prefix still undecided at this size is opaque.
    pub max_bytes: usize,
}

/// The outcome of [`detect_stream`].
#[derive(Debug)]
pub struct Detected<S> {
    /// The protocol the connection is handled as.
    pub protocol: Protocol,
    /// Why: for logs and metrics.
    pub reason: Reason,
    /// The stream, replaying every byte detection read.
    pub stream: PrefixedStream<S>,
}

/// Why [`detect_stream`] settled on its protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The first bytes decided.
    Sniffed,
    /// The service declared the protocol; nothing was read.
    Declared,
    /// The port is in [`OPAQUE_PORTS`]; nothing was read.
    OpaquePort,
    /// The first bytes did not match what the service declared (TLS), so the bytes pass as
    /// they are.
    Mismatch,
    /// [`DetectConfig::timeout`] passed with the prefix undecided.
    TimedOut,
    /// [`DetectConfig::max_bytes`] arrived with the prefix undecided.
    BufferFull,
    /// The peer closed its side with the prefix undecided.
    Eof,
}

// === impl DetectConfig ===

impl Default for DetectConfig {
    /// One second, as an outbound client that speaks first always sends its first bytes at
    /// once; 16 KiB plus room for the record headers, so a whole ClientHello fits.
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(1),
            max_bytes: super::MAX_CLIENT_HELLO + 1024,
        }
    }
}

/// Decides the protocol of `stream`, a connection captured on destination `port`.
///
/// Declared protocols other than TLS and [`OPAQUE_PORTS`] skip reading entirely. I/O errors are
/// returned; the peer closing early is not an error (the connection is opaque, and the bytes it
/// sent are still replayed).
pub async fn detect_stream<S>(
    mut stream: S,
    port: u16,
    hint: ProtocolHint,
    config: &DetectConfig,
) -> io::Result<Detected<S>>
where
    S: AsyncRead + Unpin,
{
    let declared = match hint {
        ProtocolHint::Http1 => Some(Protocol::Http1),
        ProtocolHint::Http2 => Some(Protocol::Http2),
        ProtocolHint::Opaque => Some(Protocol::Opaque),
        ProtocolHint::Tls | ProtocolHint::Auto => None,
    };
    if let Some(protocol) = declared {
        return Ok(unread(protocol, Reason::Declared, stream));
    }
    if hint == ProtocolHint::Auto && OPAQUE_PORTS.contains(&port) {
        return Ok(unread(Protocol::Opaque, Reason::OpaquePort, stream));
    }

    let deadline = Instant::now() + config.timeout;
    let mut buf = vec![0; config.max_bytes];
    let mut filled = 0;
    let (protocol, reason) = loop {
        if filled > 0
            && let Detection::Done(protocol) = detect(buf.get(..filled).unwrap_or_default())
        {
            break (protocol, Reason::Sniffed);
        }
        let Some(space) = buf.get_mut(filled..).filter(|space| !space.is_empty()) else {
            break (Protocol::Opaque, Reason::BufferFull);
        };
        match tokio::time::timeout_at(deadline, stream.read(space)).await {
            Err(_elapsed) => break (Protocol::Opaque, Reason::TimedOut),
            Ok(Ok(0)) => break (Protocol::Opaque, Reason::Eof),
            Ok(Ok(n)) => filled += n,
            Ok(Err(error)) => return Err(error),
        }
    };
    buf.truncate(filled);
    // A port declared TLS carries TLS or bytes we pass on untouched.
    let mismatch = hint == ProtocolHint::Tls
        && reason == Reason::Sniffed
        && !matches!(protocol, Protocol::Tls { .. });
    let (protocol, reason) = if mismatch {
        (Protocol::Opaque, Reason::Mismatch)
    } else {
        (protocol, reason)
    };
    Ok(Detected {
        protocol,
        reason,
        stream: PrefixedStream::new(buf, stream),
    })
}

fn unread<S>(protocol: Protocol, reason: Reason, stream: S) -> Detected<S> {
    Detected {
        protocol,
        reason,
        stream: PrefixedStream::new(Vec::new(), stream),
    }
}
