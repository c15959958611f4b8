//! Damaged and hostile first bytes: detection never panics and never contradicts itself.
//!
//! The fuzz target in `proxy/fuzz` explores far more inputs; these bounded, deterministic
//! mutations keep the same guarantees checked by every `cargo test`.

use super::*;

/// Well-formed starts of each protocol to damage.
const CORPUS: &[&[u8]] = &[
    include_bytes!("testdata/curl_client_hello.bin"),
    b"GET /productpage HTTP/1.1\r\nHost: productpage:9080\r\nUser-Agent: curl/8\r\n\r\n",
    b"POST /ratings HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    b"\x16\x03\x01\x00\x2d\x01\x00\x00\x29\x03\x03",
];

/// Byte sequences that the parsers give meaning to, to splice in.
const TOKENS: &[&[u8]] = &[
    b"\x16\x03\x01",
    b"\x00\x00",
    b"\xff\xff",
    b"\x01\x00\xff\xff",
    b"\x00\x10",
    b" HTTP/1.",
    b"GET ",
    b"PRI * ",
    b"\r\n",
    b"\x00",
];

/// xorshift64: deterministic and dependency-free, so a failure reproduces exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut bytes = bytes.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        let len = rng.below(16).min(bytes.len() - at);
        match rng.below(6) {
            0 | 1 if at < bytes.len() => bytes[at] = rng.next() as u8,
            2 => drop(bytes.drain(at..at + len)),
            3 | 4 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                bytes.splice(at..at, token.iter().copied());
            }
            _ => bytes.truncate(at),
        }
    }
    bytes
}

/// What must hold of any input: a decided protocol stays decided as more bytes arrive, and a
/// request for more bytes only comes from a prefix that could still become something.
fn check(bytes: &[u8]) {
    let whole = detect(bytes);
    if let Detection::Done(Protocol::Tls { sni: Some(sni), .. }) = &whole {
        assert!(!sni.is_empty() && sni.bytes().all(|b| b.is_ascii_graphic()));
        assert_eq!(sni, &sni.to_ascii_lowercase());
    }
    let mut decided = None;
    for n in 0..=bytes.len() {
        match (detect(&bytes[..n]), &decided) {
            (Detection::NeedMore, None) => {}
            (Detection::Done(protocol), None) => decided = Some(protocol),
            (Detection::Done(protocol), Some(first)) if protocol.same_kind(first) => {}
            (later, first) => panic!("{bytes:?}: at {n} bytes {later:?} after {first:?}"),
        }
    }
}

impl Protocol {
    /// Equal up to the TLS names, which only the complete ClientHello decides.
    fn same_kind(&self, other: &Protocol) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

#[test]
fn the_corpus_is_detected() {
    let kinds: Vec<_> = CORPUS.iter().map(|bytes| detect(bytes)).collect();
    assert_eq!(
        kinds,
        [
            Detection::Done(Protocol::Tls {
                sni: Some("api.bookinfo.example".to_owned()),
                alpn: vec!["h2".to_owned(), "http/1.1".to_owned()],
            }),
            Detection::Done(Protocol::Http1),
            Detection::Done(Protocol::Http1),
            Detection::Done(Protocol::Http2),
            Detection::NeedMore,
        ]
    );
}

#[test]
fn damaged_prefixes_never_panic_or_change_their_mind() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..400 {
        let bytes = mutate(CORPUS[round % CORPUS.len()], &mut rng);
        check(&bytes);
    }
}
