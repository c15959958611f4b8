//! The shared rules, case by case.

use pretty_assertions::assert_eq;

use crate::{
    api::Duration,
    validate::{common, headers},
};

#[test]
fn hosts() {
    for valid in [
        "reviews",
        "reviews.default.svc.cluster.local",
        "istio.io.",
        "*",
        "*.example.com",
        "a-1.b2",
    ] {
        assert_eq!(common::host(valid), Ok(()), "{valid}");
    }
    let error = |name: &str| common::host(name).unwrap_err();
    assert_eq!(
        error("*.*.example.com"),
        "host \"*.*.example.com\" is invalid: a wildcard must be the whole first label, as in \"*.example.com\""
    );
    assert_eq!(
        error("-reviews"),
        "host \"-reviews\" is invalid: label \"-reviews\" must be 1 to 63 lowercase letters, digits or '-', starting and ending with a letter or digit"
    );
    assert_eq!(
        error("10.0.0.1"),
        "host \"10.0.0.1\" is invalid: its last label cannot be all digits (write an IP address where one is allowed, or a name)"
    );
    assert_eq!(
        common::fqdn("*.example.com").unwrap_err(),
        "host \"*.example.com\" cannot have a wildcard here: name one host"
    );
    assert!(common::host_covers("*.example.com", "a.example.com"));
    assert!(common::host_covers("*.example.com", "*.a.example.com"));
    assert!(common::host_covers("*", "reviews"));
    assert!(!common::host_covers("*.example.com", "example.com"));
    assert!(!common::host_covers("a.example.com", "*.example.com"));
}

#[test]
fn durations_are_whole_milliseconds_of_at_least_one() {
    let check = |text: &str| common::duration(&Duration::from(text)).map(|d| d.as_millis());
    assert_eq!(check("1.001s"), Ok(1001));
    assert_eq!(check("1ms"), Ok(1));
    assert_eq!(check("1h"), Ok(3_600_000));
    assert_eq!(
        check("999us"),
        Err("duration \"999us\" is too short: use at least 1ms".to_string())
    );
    assert_eq!(
        check("1.0005s"),
        Err(
            "duration \"1.0005s\" is finer than a millisecond: round it to whole milliseconds"
                .to_string()
        )
    );
}

#[test]
fn regexes_say_why_they_do_not_compile() {
    assert_eq!(common::regex("^/api/v[0-9]+/.*$"), Ok(()));
    assert_eq!(
        common::regex("(?<name>x)+)").unwrap_err(),
        "regex \"(?<name>x)+)\" does not compile: unopened group"
    );
    assert_eq!(
        common::regex(&"a".repeat(1025)).unwrap_err(),
        "regex is 1025 characters long: the proxy accepts at most 1024"
    );
    assert_eq!(
        common::regex("").unwrap_err(),
        "regex is empty: write a pattern (RE2 syntax)"
    );
}

#[test]
fn addresses() {
    for valid in [
        "10.1.2.3",
        "10.1.0.0/16",
        "2001:db8::1",
        "2001:db8::/32",
        "0.0.0.0/0",
    ] {
        assert_eq!(common::ip_or_cidr(valid), Ok(()), "{valid}");
    }
    assert_eq!(
        common::ip_or_cidr("10.1.0.0/+8").unwrap_err(),
        "\"10.1.0.0/+8\" is not a valid CIDR block: the prefix length must be 0 to 32"
    );
    assert_eq!(
        common::ip_or_cidr("2001:db8::/129").unwrap_err(),
        "\"2001:db8::/129\" is not a valid CIDR block: the prefix length must be 0 to 128"
    );
    assert_eq!(
        common::ip_or_cidr("example.com/8").unwrap_err(),
        "\"example.com/8\" is not a valid CIDR block: \"example.com\" is not an IP address"
    );
    assert_eq!(common::unix_socket("@abstract"), Ok(()));
    assert!(common::unix_socket("/var/run/").is_err());
}

#[test]
fn header_values_escape_percent_signs() {
    for valid in [
        "foo",
        "%HOSTNAME%",
        "100%%",
        "prefix %REQ(x-id)% suffix",
        "tab\tok",
    ] {
        assert_eq!(headers::header_value(valid), Ok(()), "{valid}");
    }
    for invalid in ["abc%123", "%START_TIME%%", "%lower%", "50%"] {
        assert!(headers::header_value(invalid).is_err(), "{invalid}");
    }
    assert_eq!(
        headers::header_value("a\nb").unwrap_err(),
        "header value \"a\\nb\" has a control character: remove it"
    );
}

#[test]
fn localities_and_lists() {
    assert_eq!(common::locality("us-east1/zone-a/rack-1"), Ok(()));
    assert_eq!(common::locality("us-east1/*"), Ok(()));
    assert_eq!(
        common::locality("*/zone").unwrap_err(),
        "locality \"*/zone\" is invalid: '*' may only end it, as in \"us-east1/*\""
    );
    assert_eq!(common::enumerate(&["a"]), "a");
    assert_eq!(common::enumerate(&["a", "b", "c"]), "a, b and c");
}
