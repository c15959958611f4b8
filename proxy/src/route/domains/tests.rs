use super::*;

fn index(domains: &[&str], ignore_port: bool) -> DomainIndex {
    let mut index = DomainIndex::new(ignore_port);
    for (i, domain) in domains.iter().enumerate() {
        index
            .insert(domain, i, &FieldPath::root().index(i))
            .expect("unique domains");
    }
    index
}

#[test]
fn exact_beats_wildcards_and_default() {
    let index = index(&["*", "*.foo.com", "foo.*", "api.foo.com"], false);
    assert_eq!(index.find("api.foo.com"), Some(3));
    assert_eq!(index.find("www.foo.com"), Some(1));
    assert_eq!(index.find("foo.org"), Some(2));
    assert_eq!(index.find("bar.org"), Some(0));
}

#[test]
fn longest_suffix_wins() {
    let index = index(&["*.com", "*.foo.com", "*-bar.foo.com"], false);
    assert_eq!(index.find("x-bar.foo.com"), Some(2));
    assert_eq!(index.find("x.foo.com"), Some(1));
    assert_eq!(index.find("x.com"), Some(0));
}

#[test]
fn suffix_wildcard_beats_prefix_wildcard() {
    let index = index(&["api.*", "*.foo.com"], false);
    assert_eq!(index.find("api.foo.com"), Some(1));
    assert_eq!(index.find("api.bar.com"), Some(0));
}

#[test]
fn longest_prefix_wins() {
    let index = index(&["foo.*", "foo.bar.*"], false);
    assert_eq!(index.find("foo.bar.com"), Some(1));
    assert_eq!(index.find("foo.baz.com"), Some(0));
}

#[test]
fn the_wildcard_must_cover_at_least_one_character() {
    let index = index(&["*.foo.com", "foo.*"], false);
    assert_eq!(index.find(".foo.com"), None);
    assert_eq!(index.find("foo."), None);
    assert_eq!(index.find("a.foo.com"), Some(0));
}

#[test]
fn no_match_without_a_default() {
    let index = index(&["foo.com"], false);
    assert_eq!(index.find("bar.com"), None);
}

#[test]
fn hosts_and_domains_are_case_insensitive() {
    let index = index(&["Reviews.Default", "*.Foo.com"], false);
    assert_eq!(index.find("reviews.default"), Some(0));
    assert_eq!(index.find("REVIEWS.DEFAULT"), Some(0));
    assert_eq!(index.find("A.FOO.COM"), Some(1));
}

#[test]
fn the_port_is_part_of_the_host_as_in_envoy() {
    let index = index(&["reviews", "reviews:9080", "*.svc:9080"], false);
    assert_eq!(index.find("reviews"), Some(0));
    assert_eq!(index.find("reviews:9080"), Some(1));
    assert_eq!(index.find("reviews:80"), None);
    assert_eq!(index.find("a.svc:9080"), Some(2));
    assert_eq!(index.find("a.svc"), None);
}

#[test]
fn ignore_port_in_host_matching_strips_it() {
    let index = index(&["reviews", "[::1]", "::1"], true);
    assert_eq!(index.find("reviews:9080"), Some(0));
    assert_eq!(index.find("reviews"), Some(0));
    assert_eq!(index.find("[::1]:80"), Some(1));
    assert_eq!(index.find("::1"), Some(2));
}

#[test]
fn ports_are_found_in_every_authority_form() {
    assert_eq!(strip_port("a.com:80"), "a.com");
    assert_eq!(strip_port("a.com"), "a.com");
    assert_eq!(strip_port("[::1]:8080"), "[::1]");
    assert_eq!(strip_port("[::1]"), "[::1]");
    assert_eq!(strip_port("::1"), "::1");
    assert_eq!(strip_port("a.com:x"), "a.com:x");
}

#[test]
fn duplicates_are_refused() {
    for (first, second) in [
        ("a.com", "A.com"),
        ("*.a.com", "*.a.com"),
        ("a.*", "a.*"),
        ("*", "*"),
    ] {
        let mut index = DomainIndex::new(false);
        index
            .insert(first, 0, &FieldPath::parse("virtual_hosts[0].domains[0]"))
            .expect("first is fine");
        let error = index
            .insert(second, 1, &FieldPath::parse("virtual_hosts[1].domains[0]"))
            .expect_err("duplicate");
        assert_eq!(error.path.to_string(), "virtual_hosts[1].domains[0]");
        assert_eq!(
            error.reason,
            format!(
                "domain {:?} is already used by another virtual host or entry",
                second.to_ascii_lowercase()
            )
        );
    }
}

#[test]
fn empty_domains_are_refused() {
    let error = DomainIndex::new(false)
        .insert("", 0, &FieldPath::parse("virtual_hosts[0].domains[0]"))
        .expect_err("empty");
    assert_eq!(error.reason, "domain must not be empty");
}
