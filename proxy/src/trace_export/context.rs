//! W3C trace context: reading an incoming `traceparent`, and writing the one sent upstream.

use http::HeaderValue;

/// `traceparent`.
pub const TRACEPARENT: &str = "traceparent";
/// `tracestate`.
pub const TRACESTATE: &str = "tracestate";

/// The span context of an incoming `traceparent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent {
    /// The trace.
    pub trace_id: [u8; 16],
    /// The caller's span: the parent of ours.
    pub span_id: [u8; 8],
    /// The sampled flag (bit 0 of the trace flags).
    pub sampled: bool,
}

/// Parses `version-traceid-parentid-flags` as Envoy's OpenTelemetry tracer does: 55
/// characters, lowercase or uppercase hex, version not `ff`, and neither id all zeros.
/// `None` when the header is malformed: Envoy then starts no span at all.
pub fn parse_traceparent(value: &[u8]) -> Option<Parent> {
    let text = std::str::from_utf8(value).ok()?;
    if text.len() != 55 {
        return None;
    }
    let mut parts = text.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || version.len() != 2 || flags.len() != 2 {
        return None;
    }
    if version.eq_ignore_ascii_case("ff") || u8::from_str_radix(version, 16).is_err() {
        return None;
    }
    let trace_id: [u8; 16] = hex_bytes(trace)?;
    let span_id: [u8; 8] = hex_bytes(span)?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    if trace_id == [0; 16] || span_id == [0; 8] {
        return None;
    }
    Some(Parent {
        trace_id,
        span_id,
        sampled: flags & 1 == 1,
    })
}

/// The `traceparent` for the upstream: our span is its parent.
pub fn traceparent(trace_id: &[u8; 16], span_id: &[u8; 8], sampled: bool) -> HeaderValue {
    let text = format!(
        "00-{}-{}-{}",
        hex(trace_id),
        hex(span_id),
        if sampled { "01" } else { "00" }
    );
    // Hex digits and dashes only: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !text.is_ascii() {
        return None;
    }
    let mut out = [0; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_sampled_traceparent() {
        let parent =
            parse_traceparent(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
        assert_eq!(hex(&parent.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(hex(&parent.span_id), "b7ad6b7169203331");
        assert!(parent.sampled);
    }

    #[test]
    fn reads_the_sampled_bit_only() {
        let parent =
            parse_traceparent(b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02").unwrap();
        assert!(!parent.sampled);
    }

    #[test]
    fn refuses_malformed_headers() {
        for bad in [
            &b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331"[..],
            b"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            b"00-00000000000000000000000000000000-b7ad6b7169203331-01",
            b"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            b"00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
            b"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert_eq!(
                parse_traceparent(bad),
                None,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn writes_the_upstream_traceparent() {
        let value = traceparent(&[0xab; 16], &[0x01; 8], true);
        assert_eq!(
            value.to_str().unwrap(),
            "00-abababababababababababababababab-0101010101010101-01"
        );
        let value = traceparent(&[0xab; 16], &[0x01; 8], false);
        assert_eq!(
            value.to_str().unwrap(),
            "00-abababababababababababababababab-0101010101010101-00"
        );
    }
}
