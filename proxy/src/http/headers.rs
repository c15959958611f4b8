//! The headers the connection manager itself adds or removes: hop-by-hop headers, which never
//! cross a proxy, `x-request-id`, `x-forwarded-for` and `x-forwarded-proto`.

use http::{
    HeaderMap, HeaderName, HeaderValue,
    header::{CONNECTION, TE, TRANSFER_ENCODING, UPGRADE},
};
use rand::Rng;

/// `x-request-id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `x-forwarded-for`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `x-forwarded-proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `x-forwarded-host`.
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// The protocol a request asks to upgrade to (lowercased, e.g. `websocket`): an `Upgrade`
/// header together with `Connection: upgrade`.
pub fn upgrade_type(headers: &HeaderMap) -> Option<String> {
    if !has_token(headers, &CONNECTION, "upgrade") {
        return None;
    }
    let upgrade = headers.get(UPGRADE)?.to_str().ok()?;
    Some(upgrade.trim().to_ascii_lowercase()).filter(|u| !u.is_empty())
}

/// Removes the hop-by-hop headers, including those `Connection` names. With `keep_upgrade`,
/// `Upgrade` stays and `Connection` becomes `upgrade`, so that an upgrade can cross the proxy.
/// `TE` stays only as `trailers`, which gRPC needs end to end.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    let wants_trailers = has_token(headers, &TE, "trailers");
    let listed: Vec<HeaderName> = tokens(headers, &CONNECTION)
        .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
        .collect();
    for name in listed {
        if !(keep_upgrade && name == UPGRADE) {
            headers.remove(name);
        }
    }
    for name in [
        &CONNECTION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
        &TRANSFER_ENCODING,
        &TE,
    ] {
        headers.remove(name);
    }
    if wants_trailers {
        headers.insert(TE, HeaderValue::from_static("trailers"));
    }
    if keep_upgrade {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    } else {
        headers.remove(UPGRADE);
    }
}

/// Sets `x-forwarded-proto` to the connection's scheme (`https` over TLS), as Envoy does: at
/// the edge (`edge`: `use_remote_address`, with no trusted hops) whatever the client said is
/// replaced; elsewhere a value set by a proxy before us stays.
pub fn set_forwarded_proto(headers: &mut HeaderMap, tls: bool, edge: bool) {
    if edge || !headers.contains_key(&X_FORWARDED_PROTO) {
        let scheme = if tls { "https" } else { "http" };
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(scheme));
    }
}

/// Appends the client's address to `x-forwarded-for`, as Envoy does at the edge
/// (`use_remote_address: true`); sidecars leave the header as it came.
pub fn append_forwarded_for(headers: &mut HeaderMap, client: std::net::IpAddr) {
    let value = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(previous) if !previous.is_empty() => format!("{previous},{client}"),
        _ => client.to_string(),
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(X_FORWARDED_FOR.clone(), value);
    }
}

/// Adds a fresh `x-request-id` when absent and `generate` is on; returns the request's id.
pub fn ensure_request_id(headers: &mut HeaderMap, generate: bool) -> Option<String> {
    if let Some(id) = headers.get(&X_REQUEST_ID) {
        return id.to_str().ok().map(str::to_owned);
    }
    if !generate {
        return None;
    }
    let id = uuid_v4(&mut rand::rng());
    // A UUID is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID.clone(), value);
    }
    Some(id)
}

/// A random (version 4) UUID in its canonical text form.
pub fn uuid_v4<R: Rng + ?Sized>(rng: &mut R) -> String {
    uuid_v4_text(rng.random())
}

/// The canonical text of the version 4 UUID made of `bytes`. Written into one buffer: this
/// runs for every request that comes without an `x-request-id`.
fn uuid_v4_text(mut bytes: [u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (i, byte) in bytes.into_iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

/// The comma-separated tokens of every value of `name`, trimmed and lowercased.
fn tokens<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = String> + 'a {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
}

fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    tokens(headers, name).any(|t| t == token)
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::SmallRng};

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn names(headers: &HeaderMap) -> Vec<String> {
        let mut names: Vec<String> = headers.keys().map(|n| n.as_str().to_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let mut headers = map(&[
            ("connection", "keep-alive, X-Private"),
            ("keep-alive", "timeout=5"),
            ("proxy-connection", "keep-alive"),
            ("transfer-encoding", "chunked"),
            ("te", "gzip"),
            ("upgrade", "websocket"),
            ("x-private", "1"),
            ("x-kept", "2"),
        ]);
        strip_hop_by_hop(&mut headers, false);
        assert_eq!(names(&headers), ["x-kept"]);
    }

    #[test]
    fn te_trailers_and_upgrades_survive_when_asked() {
        let mut headers = map(&[
            ("connection", "Upgrade"),
            ("upgrade", "websocket"),
            ("te", "trailers, deflate"),
        ]);
        assert_eq!(upgrade_type(&headers).as_deref(), Some("websocket"));
        strip_hop_by_hop(&mut headers, true);
        assert_eq!(names(&headers), ["connection", "te", "upgrade"]);
        assert_eq!(headers[CONNECTION], "upgrade");
        assert_eq!(headers[TE], "trailers");
        assert_eq!(headers[UPGRADE], "websocket");
    }

    #[test]
    fn an_upgrade_header_without_connection_upgrade_is_no_upgrade() {
        assert_eq!(upgrade_type(&map(&[("upgrade", "websocket")])), None);
    }

    #[test]
    fn request_ids_are_kept_or_generated() {
        let mut headers = map(&[("x-request-id", "given")]);
        assert_eq!(
            ensure_request_id(&mut headers, true).as_deref(),
            Some("given")
        );
        let mut headers = HeaderMap::new();
        assert_eq!(ensure_request_id(&mut headers, false), None);
        assert!(headers.is_empty());
        let id = ensure_request_id(&mut headers, true).unwrap();
        assert_eq!(headers[&X_REQUEST_ID], id.as_str());
    }

    #[test]
    fn the_client_address_is_appended_to_x_forwarded_for() {
        let mut headers = map(&[]);
        append_forwarded_for(&mut headers, "198.18.0.7".parse().unwrap());
        assert_eq!(headers["x-forwarded-for"], "198.18.0.7");
        let mut headers = map(&[("x-forwarded-for", "203.0.113.9")]);
        append_forwarded_for(&mut headers, "127.0.0.1".parse().unwrap());
        assert_eq!(headers["x-forwarded-for"], "203.0.113.9,127.0.0.1");
    }

    #[test]
    fn x_forwarded_proto_is_the_connection_scheme_unless_a_proxy_before_set_it() {
        let cases = [
            (None, false, false, "http"),
            (None, true, false, "https"),
            (Some("https"), false, false, "https"),
            (Some("http"), true, false, "http"),
            // At the edge the client's word is not trusted.
            (Some("https"), false, true, "http"),
            (Some("http"), true, true, "https"),
            (None, true, true, "https"),
        ];
        for (given, tls, edge, expected) in cases {
            let mut headers = map(&given
                .map(|v| ("x-forwarded-proto", v))
                .into_iter()
                .collect::<Vec<_>>());
            set_forwarded_proto(&mut headers, tls, edge);
            let seen: Vec<_> = headers.get_all(&X_FORWARDED_PROTO).iter().collect();
            assert_eq!(seen, [expected], "{given:?} tls={tls} edge={edge}");
        }
    }

    #[test]
    fn uuid_text_sets_the_version_and_variant_bits() {
        let bytes: [u8; 16] = std::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
        assert_eq!(uuid_v4_text(bytes), "00010203-0405-4607-8809-0a0b0c0d0e0f");
        assert_eq!(
            uuid_v4_text([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
    }

    #[test]
    fn uuids_have_the_v4_layout() {
        let mut rng = SmallRng::seed_from_u64(7);
        let id = uuid_v4(&mut rng);
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_ne!(id, uuid_v4(&mut rng));
    }
}
