//! `require_tls`: which requests a virtual host turns away to `https`.

use envoy_types::pb::envoy::config::route::v3::virtual_host::TlsRequirementType;

use super::*;

fn table() -> RouteTable {
    let mut secure = vhost(
        "secure",
        &["secure.example"],
        vec![route(prefix("/"), forward("a"))],
    );
    secure.require_tls = TlsRequirementType::All as i32;
    let mut external = vhost("external", &["external.example"], vec![]);
    external.require_tls = TlsRequirementType::ExternalOnly as i32;
    let open = vhost("open", &["*"], vec![route(prefix("/"), forward("b"))]);
    RouteTable::compile(&config(vec![secure, external, open])).expect("compiles")
}

fn redirects(table: &RouteTable, authority: &str, proto: Option<&str>) -> bool {
    let mut headers = HeaderMap::new();
    if let Some(proto) = proto {
        headers.insert("x-forwarded-proto", proto.parse().expect("header value"));
    }
    table.redirects_to_tls(&RequestMeta::new(&Method::GET, authority, "/", &headers))
}

#[test]
fn plaintext_requests_to_a_host_requiring_tls_are_redirected() {
    let table = table();
    assert!(redirects(&table, "secure.example", None));
    assert!(redirects(&table, "secure.example", Some("http")));
    // Envoy compares the header's value exactly.
    assert!(redirects(&table, "secure.example", Some("HTTPS")));
    assert!(!redirects(&table, "secure.example", Some("https")));
    // No address is internal: EXTERNAL_ONLY turns every plaintext request away, even one
    // without a route.
    assert!(redirects(&table, "external.example", None));
    assert!(!redirects(&table, "other.example", None));
}

#[test]
fn tables_without_the_requirement_never_redirect() {
    let open = vhost("open", &["*"], vec![route(prefix("/"), forward("b"))]);
    let table = RouteTable::compile(&config(vec![open])).expect("compiles");
    assert!(!redirects(&table, "secure.example", None));
}

#[test]
fn an_unknown_requirement_is_refused() {
    let mut bad = vhost("bad", &["*"], vec![]);
    bad.require_tls = 7;
    let error = RouteTable::compile(&config(vec![bad])).expect_err("refused");
    assert_eq!(
        error.to_string(),
        "RouteConfiguration \"outbound|9080||reviews\": virtual_hosts[0].require_tls: unknown value 7"
    );
}
