//! The TLS ClientHello: enough of it to route by SNI and ALPN (RFC 8446 §4.1.2, RFC 6066 §3,
//! RFC 7301 §3.1).
//!
//! Every read goes through [`Reader`], which returns `None` instead of indexing past the end, so
//! truncated and hostile input can only end in `Partial` or `No`.

use super::{Match, Protocol};

/// The largest ClientHello we buffer to read its extensions. Real ones are well under 2 KiB (a
/// post-quantum key share included); one that declares more is still TLS, but is routed without
/// its SNI rather than held in memory.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

/// The TLS record content type of handshake messages.
const CONTENT_HANDSHAKE: u8 = 22;
/// The handshake message type of a ClientHello.
const CLIENT_HELLO: u8 = 1;
/// A record header: type, legacy version, length.
const RECORD_HEADER: usize = 5;
/// The largest plaintext record fragment (RFC 8446 §5.1).
const MAX_FRAGMENT: usize = 1 << 14;
/// Extension numbers (IANA TLS ExtensionType registry).
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
/// The `host_name` entry of a `server_name` list.
const NAME_TYPE_HOST: u8 = 0;

/// Matches a TLS handshake record carrying a ClientHello, reassembling the handshake message
/// across records, and reads its SNI and ALPN once all of it has arrived.
pub(crate) fn client_hello(prefix: &[u8]) -> Match {
    let mut handshake = Vec::new();
    let mut rest = prefix;
    loop {
        match record(rest) {
            Record::Partial(fragment) => {
                handshake.extend_from_slice(fragment);
                return match handshake_message(&handshake) {
                    Message::Complete(body) => parse_client_hello(body),
                    Message::TooLarge => tls_without_names(),
                    Message::Partial => Match::Partial,
                    Message::NotClientHello => Match::No,
                };
            }
            Record::Complete { fragment, next } => {
                handshake.extend_from_slice(fragment);
                match handshake_message(&handshake) {
                    Message::Complete(body) => return parse_client_hello(body),
                    Message::TooLarge => return tls_without_names(),
                    Message::NotClientHello => return Match::No,
                    Message::Partial if next.is_empty() => return Match::Partial,
                    Message::Partial => rest = next,
                }
            }
            Record::No => return Match::No,
        }
    }
}

/// A ClientHello too large to read: TLS all the same.
fn tls_without_names() -> Match {
    Match::Yes(Protocol::Tls {
        sni: None,
        alpn: Vec::new(),
    })
}

enum Record<'a> {
    /// The record's header (or part of it) arrived, and this much of its fragment.
    Partial(&'a [u8]),
    Complete {
        fragment: &'a [u8],
        next: &'a [u8],
    },
    No,
}

fn record(bytes: &[u8]) -> Record<'_> {
    let mut r = Reader(bytes);
    match r.u8() {
        Some(CONTENT_HANDSHAKE) => {}
        Some(_) => return Record::No,
        None => return Record::Partial(&[]),
    }
    // The legacy record version is 3.x: 3.1 in practice, 3.0 from very old clients.
    match r.u8() {
        Some(3) => {}
        Some(_) => return Record::No,
        None => return Record::Partial(&[]),
    }
    match r.u8() {
        Some(minor) if minor <= 4 => {}
        Some(_) => return Record::No,
        None => return Record::Partial(&[]),
    }
    let Some(len) = r.u16() else {
        return Record::Partial(&[]);
    };
    let len = usize::from(len);
    if len == 0 || len > MAX_FRAGMENT {
        return Record::No;
    }
    let body = bytes.get(RECORD_HEADER..).unwrap_or_default();
    match (body.get(..len), body.get(len..)) {
        (Some(fragment), Some(next)) => Record::Complete { fragment, next },
        _ => Record::Partial(body),
    }
}

enum Message<'a> {
    Complete(&'a [u8]),
    Partial,
    TooLarge,
    NotClientHello,
}

fn handshake_message(handshake: &[u8]) -> Message<'_> {
    let mut r = Reader(handshake);
    match r.u8() {
        Some(CLIENT_HELLO) => {}
        Some(_) => return Message::NotClientHello,
        None => return Message::Partial,
    }
    let Some(len) = r.u24() else {
        return Message::Partial;
    };
    if len > MAX_CLIENT_HELLO {
        return Message::TooLarge;
    }
    match r.bytes(len) {
        Some(body) => Message::Complete(body),
        None => Message::Partial,
    }
}

/// Reads a complete ClientHello body. A body whose lengths do not add up is not TLS we can
/// serve, so it is opaque.
fn parse_client_hello(body: &[u8]) -> Match {
    match client_hello_names(body) {
        Some((sni, alpn)) => Match::Yes(Protocol::Tls { sni, alpn }),
        None => Match::No,
    }
}

fn client_hello_names(body: &[u8]) -> Option<(Option<String>, Vec<String>)> {
    let mut r = Reader(body);
    let _legacy_version = r.u16()?;
    let _random = r.bytes(32)?;
    let session_id = r.u8_prefixed()?;
    if session_id.len() > 32 {
        return None;
    }
    let suites = r.u16_prefixed()?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return None;
    }
    if r.u8_prefixed()?.is_empty() {
        return None;
    }
    let (mut sni, mut alpn) = (None, Vec::new());
    // A hello without extensions is valid TLS 1.2 and carries neither name.
    if r.0.is_empty() {
        return Some((sni, alpn));
    }
    let mut extensions = Reader(r.u16_prefixed()?);
    if !r.0.is_empty() {
        return None;
    }
    while !extensions.0.is_empty() {
        let kind = extensions.u16()?;
        let data = extensions.u16_prefixed()?;
        match kind {
            EXT_SERVER_NAME => sni = server_name(data)?,
            EXT_ALPN => alpn = protocols(data)?,
            _ => {}
        }
    }
    Some((sni, alpn))
}

/// The first `host_name` of a `server_name` extension; `Some(None)` when it is not a usable
/// ASCII name, `None` when the extension is malformed.
fn server_name(data: &[u8]) -> Option<Option<String>> {
    let mut list = Reader(Reader(data).u16_prefixed()?);
    while !list.0.is_empty() {
        let kind = list.u8()?;
        let name = list.u16_prefixed()?;
        if kind == NAME_TYPE_HOST {
            let usable = !name.is_empty() && name.iter().all(|b| b.is_ascii_graphic());
            return Some(usable.then(|| String::from_utf8_lossy(name).to_ascii_lowercase()));
        }
    }
    Some(None)
}

/// The ALPN protocol names; names that are not UTF-8 cannot match a route and are left out.
fn protocols(data: &[u8]) -> Option<Vec<String>> {
    let mut list = Reader(Reader(data).u16_prefixed()?);
    let mut names = Vec::new();
    while !list.0.is_empty() {
        let name = list.u8_prefixed()?;
        if name.is_empty() {
            return None;
        }
        if let Ok(name) = std::str::from_utf8(name) {
            names.push(name.to_owned());
        }
    }
    Some(names)
}

/// A cursor over untrusted bytes: every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let head = self.0.get(..n)?;
        self.0 = self.0.get(n..)?;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.bytes(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.bytes(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    fn u24(&mut self) -> Option<usize> {
        let b = self.bytes(3)?;
        let n = u32::from_be_bytes([0, *b.first()?, *b.get(1)?, *b.get(2)?]);
        usize::try_from(n).ok()
    }

    fn u8_prefixed(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.bytes(usize::from(n))
    }

    fn u16_prefixed(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.bytes(usize::from(n))
    }
}
