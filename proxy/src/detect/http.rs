//! HTTP/1.x request lines and the HTTP/2 connection preface.

use super::{Match, Protocol, starts_like};

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub(crate) const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Request methods that start an HTTP/1.x request line (RFC 9110 §9 and PATCH): a client that
/// sends anything else is not worth an HTTP parser.
const METHODS: &[&[u8]] = &[
    b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"CONNECT", b"OPTIONS", b"TRACE", b"PATCH",
];

/// The version token after the request target; the minor digit is checked separately.
const VERSION: &[u8] = b"HTTP/1.";

/// Matches the HTTP/2 preface byte for byte.
pub(crate) fn http2_preface(prefix: &[u8]) -> Match {
    if !starts_like(prefix, HTTP2_PREFACE) {
        Match::No
    } else if prefix.len() >= HTTP2_PREFACE.len() {
        Match::Yes(Protocol::Http2)
    } else {
        Match::Partial
    }
}

/// Matches `METHOD SP request-target SP HTTP/1.<digit>`.
///
/// The line is decided at the version's minor digit; the rest of the request is the HTTP
/// codec's business.
pub(crate) fn http1_request_line(prefix: &[u8]) -> Match {
    let mut verdict = Match::No;
    for method in METHODS {
        match request_line_after(prefix, method) {
            Match::Yes(protocol) => return Match::Yes(protocol),
            Match::Partial => verdict = Match::Partial,
            Match::No => {}
        }
    }
    verdict
}

fn request_line_after(prefix: &[u8], method: &[u8]) -> Match {
    let Some(rest) = token(prefix, method) else {
        return if starts_like(prefix, method) {
            Match::Partial
        } else {
            Match::No
        };
    };
    let Some(rest) = space(rest) else {
        return if rest.is_empty() {
            Match::Partial
        } else {
            Match::No
        };
    };
    // The request target: visible ASCII up to the next space, never empty.
    let end = rest.iter().position(|&b| !is_target_byte(b));
    let Some(end) = end else {
        return Match::Partial;
    };
    if end == 0 {
        return Match::No;
    }
    let Some(rest) = rest.get(end..).and_then(space) else {
        return Match::No;
    };
    if !starts_like(rest, VERSION) {
        return Match::No;
    }
    match rest.get(VERSION.len()) {
        None => Match::Partial,
        Some(minor) if minor.is_ascii_digit() => Match::Yes(Protocol::Http1),
        Some(_) => Match::No,
    }
}

/// The bytes after `word` when `prefix` starts with all of it.
fn token<'a>(prefix: &'a [u8], word: &[u8]) -> Option<&'a [u8]> {
    prefix.strip_prefix(word)
}

/// The bytes after one leading space; `None` when the first byte is something else or missing.
fn space(rest: &[u8]) -> Option<&[u8]> {
    rest.strip_prefix(b" ")
}

/// A byte allowed in a request target: visible ASCII (RFC 9112 §3.2 is stricter still).
fn is_target_byte(b: u8) -> bool {
    b.is_ascii_graphic()
}
