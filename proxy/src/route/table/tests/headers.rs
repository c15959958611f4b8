//! Header, query parameter and gRPC matching.

use super::*;

fn with_headers(headers: Vec<HeaderMatcher>) -> RouteTable {
    let mut m = prefix("/");
    m.headers = headers;
    table_matching(m)
}

#[test]
fn header_string_matchers() {
    use HeaderMatchSpecifier::StringMatch as S;
    let cases = [
        (MatchPattern::Exact("v2".into()), "v2", "v22"),
        (MatchPattern::Prefix("v".into()), "v9", "x9"),
        (
            MatchPattern::Suffix("-canary".into()),
            "a-canary",
            "canary-a",
        ),
        (MatchPattern::Contains("test".into()), "a-test-b", "tes"),
        (MatchPattern::SafeRegex(regex("v[0-9]")), "v7", "v77"),
    ];
    for (pattern, yes, no) in cases {
        let table = with_headers(vec![header(
            "x-version",
            Some(S(string(pattern.clone(), false))),
            false,
        )]);
        assert!(get(&table, "/", &[("x-version", yes)]), "{pattern:?} {yes}");
        assert!(!get(&table, "/", &[("x-version", no)]), "{pattern:?} {no}");
        assert!(!get(&table, "/", &[]), "{pattern:?} missing");
    }
}

#[test]
fn header_string_matchers_ignoring_case() {
    use HeaderMatchSpecifier::StringMatch as S;
    for pattern in [
        MatchPattern::Exact("Chrome".into()),
        MatchPattern::Prefix("CHR".into()),
        MatchPattern::Suffix("ROME".into()),
        MatchPattern::Contains("HRo".into()),
    ] {
        let table = with_headers(vec![header(
            "user-agent",
            Some(S(string(pattern, true))),
            false,
        )]);
        assert!(get(&table, "/", &[("user-agent", "chrome")]));
        assert!(!get(&table, "/", &[("user-agent", "firefox")]));
    }
}

#[test]
#[allow(deprecated)]
fn deprecated_direct_header_fields() {
    use HeaderMatchSpecifier as H;
    let cases = [
        (H::ExactMatch("a".into()), "a", "ab"),
        (H::PrefixMatch("a".into()), "ab", "ba"),
        (H::SuffixMatch("b".into()), "ab", "ba"),
        (H::ContainsMatch("b".into()), "abc", "ac"),
        (H::SafeRegexMatch(regex("a+")), "aaa", "aab"),
    ];
    for (spec, yes, no) in cases {
        let table = with_headers(vec![header("x", Some(spec), false)]);
        assert!(get(&table, "/", &[("x", yes)]));
        assert!(!get(&table, "/", &[("x", no)]));
    }
}

#[test]
fn present_and_absent_headers() {
    let present = with_headers(vec![header(
        "x-debug",
        Some(HeaderMatchSpecifier::PresentMatch(true)),
        false,
    )]);
    assert!(get(&present, "/", &[("x-debug", "")]));
    assert!(!get(&present, "/", &[]));
    let absent = with_headers(vec![header(
        "x-debug",
        Some(HeaderMatchSpecifier::PresentMatch(false)),
        false,
    )]);
    assert!(get(&absent, "/", &[]));
    assert!(!get(&absent, "/", &[("x-debug", "1")]));
    // No specifier at all means "present", as in Envoy.
    let bare = with_headers(vec![header("x-debug", None, false)]);
    assert!(get(&bare, "/", &[("x-debug", "1")]));
    assert!(!get(&bare, "/", &[]));
}

#[test]
fn inverted_matches_and_missing_headers() {
    use HeaderMatchSpecifier::StringMatch as S;
    let table = with_headers(vec![header(
        "x-env",
        Some(S(string(MatchPattern::Exact("prod".into()), false))),
        true,
    )]);
    assert!(get(&table, "/", &[("x-env", "dev")]));
    assert!(!get(&table, "/", &[("x-env", "prod")]));
    // Envoy: a missing header does not match an inverted string matcher either.
    assert!(!get(&table, "/", &[]));
    let not_present = with_headers(vec![header(
        "x-env",
        Some(HeaderMatchSpecifier::PresentMatch(true)),
        true,
    )]);
    assert!(get(&not_present, "/", &[]));
    assert!(!get(&not_present, "/", &[("x-env", "a")]));
}

#[test]
fn missing_headers_can_be_treated_as_empty() {
    use HeaderMatchSpecifier::StringMatch as S;
    let mut matcher = header(
        "x-tag",
        Some(S(string(MatchPattern::Exact(String::new()), false))),
        false,
    );
    matcher.treat_missing_header_as_empty = true;
    let table = with_headers(vec![matcher]);
    assert!(get(&table, "/", &[]));
    assert!(!get(&table, "/", &[("x-tag", "a")]));
}

#[test]
fn range_match_is_half_open() {
    let table = with_headers(vec![header(
        "x-n",
        Some(HeaderMatchSpecifier::RangeMatch(Int64Range {
            start: -10,
            end: 0,
        })),
        false,
    )]);
    assert!(get(&table, "/", &[("x-n", "-10")]));
    assert!(get(&table, "/", &[("x-n", "-1")]));
    assert!(!get(&table, "/", &[("x-n", "0")]));
    assert!(!get(&table, "/", &[("x-n", "abc")]));
}

#[test]
fn multiple_header_values_are_joined_with_commas() {
    use HeaderMatchSpecifier::StringMatch as S;
    let table = with_headers(vec![header(
        "x-a",
        Some(S(string(MatchPattern::Exact("1,2".into()), false))),
        false,
    )]);
    assert!(get(&table, "/", &[("x-a", "1"), ("x-a", "2")]));
    assert!(!get(&table, "/", &[("x-a", "1")]));
}

#[test]
fn every_header_matcher_must_match() {
    let table = with_headers(vec![header("a", None, false), header("b", None, false)]);
    assert!(get(&table, "/", &[("a", "1"), ("b", "1")]));
    assert!(!get(&table, "/", &[("a", "1")]));
}

#[test]
fn query_parameter_matchers() {
    let mut m = prefix("/");
    m.query_parameters = vec![
        QueryParameterMatcher {
            name: "debug".into(),
            query_parameter_match_specifier: Some(QueryParameterMatchSpecifier::PresentMatch(true)),
        },
        QueryParameterMatcher {
            name: "user".into(),
            query_parameter_match_specifier: Some(QueryParameterMatchSpecifier::StringMatch(
                string(MatchPattern::Prefix("jason".into()), false),
            )),
        },
    ];
    let table = table_matching(m);
    assert!(get(&table, "/p?debug&user=jason1", &[]));
    assert!(get(&table, "/p?user=jason&debug=0", &[]));
    assert!(!get(&table, "/p?user=jason", &[]));
    assert!(!get(&table, "/p?debug=1&user=bob", &[]));
    assert!(!get(&table, "/p", &[]));
}

#[test]
fn grpc_match_needs_a_grpc_content_type() {
    let mut m = prefix("/");
    m.grpc = Some(Default::default());
    let table = table_matching(m);
    assert!(get(
        &table,
        "/svc/Method",
        &[("content-type", "application/grpc+proto")]
    ));
    assert!(!get(
        &table,
        "/svc/Method",
        &[("content-type", "application/json")]
    ));
    assert!(!get(&table, "/svc/Method", &[]));
}

#[test]
fn pseudo_headers_match_the_request_line() {
    // Istio matches `method` and `authority` on pseudo-headers, HTTP/1.1 requests included.
    use HeaderMatchSpecifier::StringMatch as S;
    let method = with_headers(vec![header(
        ":method",
        Some(S(string(MatchPattern::Exact("POST".into()), false))),
        false,
    )]);
    assert!(hits(&method, &Method::POST, "/", &[]));
    assert!(!hits(&method, &Method::GET, "/", &[]));
    let path = with_headers(vec![header(
        ":path",
        Some(S(string(MatchPattern::Prefix("/api?".into()), false))),
        false,
    )]);
    assert!(get(&path, "/api?x=1", &[]));
    assert!(!get(&path, "/api/x", &[]));
    let scheme = with_headers(vec![header(
        ":scheme",
        Some(S(string(MatchPattern::Exact("http".into()), false))),
        false,
    )]);
    assert!(get(&scheme, "/", &[]));
}

#[test]
fn an_authority_pseudo_header_matches_the_host() {
    use HeaderMatchSpecifier::StringMatch as S;
    let authority = with_headers(vec![header(
        ":authority",
        Some(S(string(MatchPattern::Exact("host".into()), false))),
        false,
    )]);
    assert!(get(&authority, "/", &[]));
    let other = with_headers(vec![header(
        ":authority",
        Some(S(string(MatchPattern::Exact("other".into()), false))),
        false,
    )]);
    assert!(!get(&other, "/", &[]));
}
