use envoy_types::pb::envoy::config::route::v3::route_action::hash_policy::{
    ConnectionProperties, Cookie, CookieAttribute, FilterState, Header, QueryParameter,
};
use envoy_types::pb::envoy::r#type::matcher::v3::RegexMatchAndSubstitute;
use envoy_types::pb::google::protobuf::Duration as PbDuration;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;

fn policy(specifier: PolicySpecifier, terminal: bool) -> PbHashPolicy {
    PbHashPolicy {
        policy_specifier: Some(specifier),
        terminal,
    }
}

fn header(name: &str) -> PolicySpecifier {
    PolicySpecifier::Header(Header {
        header_name: name.to_owned(),
        regex_rewrite: None,
    })
}

fn cookie_policy(name: &str) -> PolicySpecifier {
    PolicySpecifier::Cookie(Cookie {
        name: name.to_owned(),
        ..Cookie::default()
    })
}

fn compile(policies: &[PbHashPolicy]) -> HashPolicy {
    HashPolicy::compile(policies, &FieldPath::parse("hash_policy")).unwrap()
}

fn error(policies: &[PbHashPolicy]) -> String {
    let e = HashPolicy::compile(policies, &FieldPath::parse("hash_policy")).unwrap_err();
    format!("{}: {}", e.path, e.reason)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

const CONNECTION: ConnectionAddrs = ConnectionAddrs {
    remote: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 18, 0, 7)), 40000),
    local: SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 19, 0, 3)), 9080),
};

fn hashed(policy: &HashPolicy, headers: &HeaderMap, path: &str) -> RequestHash {
    policy.hash(&HashInput {
        method: &Method::GET,
        authority: "reviews:9080",
        path_and_query: path,
        headers,
        connection: Some(CONNECTION),
    })
}

fn hash_of(policy: &HashPolicy, headers: &HeaderMap, path: &str) -> Option<u64> {
    let hashed = hashed(policy, headers, path);
    assert_eq!(hashed.set_cookies, Vec::<HeaderValue>::new());
    hashed.hash
}

fn ttl_cookie(
    name: &str,
    seconds: i64,
    path: &str,
    attributes: &[(&str, &str)],
) -> PolicySpecifier {
    PolicySpecifier::Cookie(Cookie {
        name: name.to_owned(),
        ttl: Some(PbDuration { seconds, nanos: 0 }),
        path: path.to_owned(),
        attributes: attributes
            .iter()
            .map(|(name, value)| CookieAttribute {
                name: (*name).to_owned(),
                value: (*value).to_owned(),
            })
            .collect(),
    })
}

fn xx(text: &str) -> u64 {
    xxh64(text.as_bytes(), 0)
}

#[test]
fn each_key_hashes_its_value_as_envoy_does() {
    let map = headers(&[
        ("x-user", "jason"),
        ("cookie", "theme=dark; session=\"abc123\""),
    ]);
    let path = "/reviews/1?shard=7&user=x&shard=9";
    let cases = [
        (header("X-User"), Some(xx("jason"))),
        (header(":authority"), Some(xx("reviews:9080"))),
        (header(":path"), Some(xx(path))),
        (header(":method"), Some(xx("GET"))),
        (header("x-absent"), None),
        (cookie_policy("session"), Some(xx("abc123"))),
        (cookie_policy("absent"), None),
        (
            PolicySpecifier::ConnectionProperties(ConnectionProperties { source_ip: true }),
            Some(xx("198.18.0.7")),
        ),
        (
            PolicySpecifier::QueryParameter(QueryParameter {
                name: "shard".to_owned(),
            }),
            Some(xx("7")),
        ),
        (
            PolicySpecifier::QueryParameter(QueryParameter {
                name: "page".to_owned(),
            }),
            None,
        ),
    ];
    for (specifier, want) in cases {
        let compiled = compile(&[policy(specifier.clone(), false)]);
        assert_eq!(hash_of(&compiled, &map, path), want, "{specifier:?}");
    }
}

#[test]
fn header_values_hash_alike_in_any_order() {
    let compiled = compile(&[policy(header("x-tag"), false)]);
    let ab = headers(&[("x-tag", "a"), ("x-tag", "b")]);
    let ba = headers(&[("x-tag", "b"), ("x-tag", "a")]);
    assert_eq!(hash_of(&compiled, &ab, "/"), Some(xx("ab")));
    assert_eq!(hash_of(&compiled, &ba, "/"), Some(xx("ab")));
}

#[test]
fn hashes_combine_in_order_and_a_terminal_hash_ends_the_list() {
    let map = headers(&[("x-a", "1"), ("x-b", "2")]);
    let (a, b) = (xx("1"), xx("2"));
    let both = compile(&[policy(header("x-a"), false), policy(header("x-b"), false)]);
    assert_eq!(hash_of(&both, &map, "/"), Some(a.rotate_left(1) ^ b));
    let same_twice = compile(&[policy(header("x-a"), false), policy(header("x-a"), false)]);
    assert_eq!(hash_of(&same_twice, &map, "/"), Some(a.rotate_left(1) ^ a));
    let terminal = compile(&[policy(header("x-a"), true), policy(header("x-b"), false)]);
    assert_eq!(hash_of(&terminal, &map, "/"), Some(a));
    // A terminal policy that found nothing does not stop the ones after it.
    let missed = compile(&[policy(header("x-none"), true), policy(header("x-b"), false)]);
    assert_eq!(hash_of(&missed, &map, "/"), Some(b));
    assert_eq!(hash_of(&compile(&[]), &map, "/"), None);
    assert!(compile(&[]).is_empty());
}

#[test]
fn refuses_what_it_cannot_honour_naming_the_field() {
    let rewrite = PolicySpecifier::Header(Header {
        header_name: "x-user".to_owned(),
        regex_rewrite: Some(RegexMatchAndSubstitute::default()),
    });
    let cases = [
        (
            ttl_cookie("session", -1, "/", &[]),
            "hash_policy[1].cookie.ttl: must be a non-negative duration",
        ),
        (
            ttl_cookie("session", 60, "/", &[("", "x")]),
            "hash_policy[1].cookie.attributes[0].name: must not be empty",
        ),
        (
            ttl_cookie("session", 60, "/", &[("SameSite", "Lax"), ("a", "b\nc")]),
            "hash_policy[1].cookie.attributes[1].value: \"b\\nc\" is not valid in a header value",
        ),
        (
            ttl_cookie("session", 60, "/\r", &[]),
            "hash_policy[1].cookie.path: \"/\\r\" is not valid in a header value",
        ),
        (
            cookie_policy(""),
            "hash_policy[1].cookie.name: must not be empty",
        ),
        (
            rewrite,
            "hash_policy[1].header.regex_rewrite: not supported by mesh-proxy",
        ),
        (
            header("bad name"),
            "hash_policy[1].header.header_name: \"bad name\" is not a valid header name",
        ),
        (
            PolicySpecifier::FilterState(FilterState {
                key: "k".to_owned(),
            }),
            "hash_policy[1].filter_state: not supported by mesh-proxy",
        ),
        (
            PolicySpecifier::ConnectionProperties(ConnectionProperties { source_ip: false }),
            "hash_policy[1].connection_properties.source_ip: must be true: it is the only connection property",
        ),
        (
            PolicySpecifier::QueryParameter(QueryParameter::default()),
            "hash_policy[1].query_parameter.name: must not be empty",
        ),
    ];
    for (specifier, want) in cases {
        let policies = [policy(header("x-user"), false), policy(specifier, false)];
        assert_eq!(error(&policies), want);
    }
    let empty = [PbHashPolicy::default()];
    assert_eq!(
        error(&empty),
        "hash_policy[0]: one of header, cookie, connection_properties or query_parameter is required"
    );
}

#[test]
fn an_absent_cookie_with_a_ttl_is_generated_as_envoy_does() {
    // XXH64 of the client's address then the address it connected to, in 16 hex digits.
    let value = format!("{:016x}", xx("198.18.0.7:40000198.19.0.3:9080"));
    assert_eq!(generated_value(Some(CONNECTION)), value);
    assert_eq!(generated_value(None), "ef46db3751d8e999");
    let attributes = [("SameSite", "Lax"), ("Secure", "")];
    let compiled = compile(&[policy(ttl_cookie("session", 3600, "/", &attributes), false)]);
    let none = HeaderMap::new();
    assert_eq!(
        hashed(&compiled, &none, "/"),
        RequestHash {
            hash: Some(xx(&value)),
            set_cookies: vec![
                HeaderValue::from_str(&format!(
                    "session=\"{value}\"; Max-Age=3600; Path=/; SameSite=Lax; Secure; HttpOnly"
                ))
                .unwrap()
            ],
        }
    );
    // A ttl of zero makes a session cookie; an empty path is left out.
    let session = compile(&[policy(ttl_cookie("sticky", 0, "", &[]), false)]);
    assert_eq!(
        hashed(&session, &none, "/").set_cookies,
        vec![HeaderValue::from_str(&format!("sticky=\"{value}\"; HttpOnly")).unwrap()]
    );
    // An empty value counts as absent, as in Envoy.
    let empty = headers(&[("cookie", "session=")]);
    assert_eq!(hashed(&compiled, &empty, "/").set_cookies.len(), 1);
}

#[test]
fn a_cookie_the_request_carries_is_hashed_and_not_set_again() {
    let compiled = compile(&[policy(ttl_cookie("session", 3600, "/", &[]), false)]);
    for (cookie, value) in [
        ("session=\"0123abcd\"", "0123abcd"),
        ("theme=dark; session=0123abcd", "0123abcd"),
        // Only a full pair of quotes is removed.
        ("session=\"0123abcd", "\"0123abcd"),
    ] {
        let map = headers(&[("cookie", cookie)]);
        assert_eq!(hash_of(&compiled, &map, "/"), Some(xx(value)), "{cookie}");
    }
    // Without a ttl, an absent cookie yields nothing; path and attributes are then unused.
    let plain = compile(&[policy(
        PolicySpecifier::Cookie(Cookie {
            name: "session".to_owned(),
            path: "/".to_owned(),
            attributes: vec![CookieAttribute {
                name: "SameSite".to_owned(),
                value: "Lax".to_owned(),
            }],
            ..Cookie::default()
        }),
        false,
    )]);
    assert_eq!(hash_of(&plain, &HeaderMap::new(), "/"), None);
}
