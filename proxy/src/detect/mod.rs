//! Protocol detection on the first bytes of a captured connection.
//!
//! [`detect`] is a pure function over whatever prefix has arrived so far: it names the protocol
//! (HTTP/1.x, HTTP/2 with prior knowledge, TLS with the ClientHello's SNI and ALPN, or opaque
//! TCP) or asks for more bytes while the prefix is a valid but incomplete start of one of them.
//! [`detect_stream`] drives it over a socket with a bounded buffer and timeout, and hands back
//! every byte it read in a [`PrefixedStream`] so nothing is lost.

mod driver;
mod hint;
mod http;
mod prefixed;
mod tls;

#[cfg(test)]
mod mutation_tests;
#[cfg(test)]
mod tests;

pub use self::driver::{DetectConfig, Detected, Reason, detect_stream};
pub use self::hint::{OPAQUE_PORTS, ProtocolHint};
pub use self::prefixed::PrefixedStream;
pub use self::tls::MAX_CLIENT_HELLO;

/// The protocol a connection speaks, as far as its first bytes tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// An HTTP/1.0 or HTTP/1.1 request line.
    Http1,
    /// The HTTP/2 connection preface (prior knowledge, h2c).
    Http2,
    /// A TLS ClientHello; what it asks for, when it says.
    Tls {
        /// The `server_name` extension's host name, lower-cased.
        sni: Option<String>,
        /// The `application_layer_protocol_negotiation` list, in the client's order.
        alpn: Vec<String>,
    },
    /// Anything else: proxied as bytes.
    Opaque,
}

/// What a prefix of a connection says so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detection {
    /// The prefix decides the protocol; more bytes would not change it.
    Done(Protocol),
    /// The prefix is a valid but incomplete start of a known protocol.
    NeedMore,
}

/// How well a prefix matches one protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    Yes(Protocol),
    Partial,
    No,
}

/// Detects the protocol of a connection from the bytes it has sent so far.
///
/// Never panics, whatever the input; an empty prefix needs more.
pub fn detect(prefix: &[u8]) -> Detection {
    if prefix.is_empty() {
        return Detection::NeedMore;
    }
    let candidates = [
        tls::client_hello(prefix),
        http::http2_preface(prefix),
        http::http1_request_line(prefix),
    ];
    let mut partial = false;
    for candidate in candidates {
        match candidate {
            Match::Yes(protocol) => return Detection::Done(protocol),
            Match::Partial => partial = true,
            Match::No => {}
        }
    }
    if partial {
        Detection::NeedMore
    } else {
        Detection::Done(Protocol::Opaque)
    }
}

/// True when `prefix` and `whole` agree on their common length: `prefix` is either still
/// arriving (a start of `whole`) or already holds all of `whole` at its start.
fn starts_like(prefix: &[u8], whole: &[u8]) -> bool {
    let n = prefix.len().min(whole.len());
    prefix.get(..n) == whole.get(..n)
}
