use std::{net::SocketAddr, sync::Arc, time::Duration};

use mesh_common::path::FieldPath;

use super::*;
use crate::{
    config::{NetworkFilter, TcpProxy},
    route::Clusters,
};

fn chain(name: &str, matcher: FilterChainMatch) -> FilterChain {
    FilterChain {
        name: name.to_owned(),
        matcher,
        filter: NetworkFilter::Tcp(Arc::new(TcpProxy {
            stat_prefix: name.to_owned(),
            clusters: Clusters::single(name, &FieldPath::root()).unwrap(),
            idle_timeout: None,
            access_log: false,
            max_duration: None,
            sni_cluster: false,
        })),
        tls: None,
    }
}

fn listener(chains: Vec<FilterChain>, default: Option<FilterChain>) -> ListenerConfig {
    ListenerConfig {
        name: "virtualOutbound".to_owned(),
        address: "0.0.0.0:15001".parse().unwrap(),
        use_original_dst: true,
        original_dst_filter: false,
        bind_to_port: true,
        filter_chains: chains,
        default_filter_chain: default,
        inspect_protocols: true,
        detection_timeout: Duration::from_secs(1),
        traffic_direction: Default::default(),
    }
}

fn cidr(text: &str) -> CidrRange {
    let (address, len) = text.split_once('/').unwrap();
    CidrRange {
        address: address.parse().unwrap(),
        prefix_len: len.parse().unwrap(),
    }
}

fn to(destination: &str) -> ChainInput {
    ChainInput::uninspected(destination.parse::<SocketAddr>().unwrap())
}

fn tls(destination: &str, sni: Option<&str>, alpn: &[&str]) -> ChainInput {
    ChainInput::detected(
        destination.parse().unwrap(),
        &Protocol::Tls {
            sni: sni.map(str::to_owned),
            alpn: alpn.iter().map(|p| (*p).to_owned()).collect(),
        },
    )
}

fn selected(listener: &ListenerConfig, input: &ChainInput) -> Option<String> {
    select_chain(listener, input).map(|chain| chain.name.clone())
}

fn port(port: u16) -> FilterChainMatch {
    FilterChainMatch {
        destination_port: Some(port),
        ..FilterChainMatch::default()
    }
}

#[test]
fn the_exact_destination_port_beats_chains_without_one() {
    let l = listener(
        vec![
            chain("any", FilterChainMatch::default()),
            chain("9080", port(9080)),
            chain("8080", port(8080)),
        ],
        None,
    );
    assert_eq!(selected(&l, &to("10.0.0.1:9080")).as_deref(), Some("9080"));
    assert_eq!(selected(&l, &to("10.0.0.1:8080")).as_deref(), Some("8080"));
    assert_eq!(selected(&l, &to("10.0.0.1:443")).as_deref(), Some("any"));
}

#[test]
fn the_longest_matching_prefix_wins_and_empty_ranges_match_as_slash_zero() {
    let ranges = |ranges: &[&str]| FilterChainMatch {
        prefix_ranges: ranges.iter().map(|r| cidr(r)).collect(),
        ..FilterChainMatch::default()
    };
    let l = listener(
        vec![
            chain("empty", FilterChainMatch::default()),
            chain("wide", ranges(&["198.19.0.0/16"])),
            chain("narrow", ranges(&["198.18.0.0/16", "198.19.0.5/32"])),
            chain("v6", ranges(&["fd00::/8"])),
        ],
        None,
    );
    assert_eq!(
        selected(&l, &to("198.19.0.5:80")).as_deref(),
        Some("narrow")
    );
    assert_eq!(selected(&l, &to("198.19.0.6:80")).as_deref(), Some("wide"));
    assert_eq!(
        selected(&l, &to("198.18.7.7:80")).as_deref(),
        Some("narrow")
    );
    assert_eq!(selected(&l, &to("127.0.0.1:80")).as_deref(), Some("empty"));
    assert_eq!(selected(&l, &to("[fd00::1]:80")).as_deref(), Some("v6"));
    // An IPv4 client seen as IPv4-mapped IPv6 still matches IPv4 ranges.
    assert_eq!(
        selected(&l, &to("[::ffff:198.19.0.5]:80")).as_deref(),
        Some("narrow")
    );
}

#[test]
fn a_chain_that_loses_on_port_never_comes_back_on_a_later_criterion() {
    // Envoy prunes criterion by criterion: the port-specific chain is kept even though its
    // prefix does not match, so nothing is left and the default applies.
    let l = listener(
        vec![
            chain(
                "port-and-prefix",
                FilterChainMatch {
                    destination_port: Some(9080),
                    prefix_ranges: vec![cidr("10.0.0.0/8")],
                    ..FilterChainMatch::default()
                },
            ),
            chain("any", FilterChainMatch::default()),
        ],
        Some(chain("default", FilterChainMatch::default())),
    );
    assert_eq!(
        selected(&l, &to("198.19.0.5:9080")).as_deref(),
        Some("default")
    );
    assert_eq!(
        selected(&l, &to("10.1.2.3:9080")).as_deref(),
        Some("port-and-prefix")
    );
    assert_eq!(selected(&l, &to("198.19.0.5:80")).as_deref(), Some("any"));
}

#[test]
fn server_names_prefer_exact_then_the_longest_wildcard() {
    let names = |names: &[&str]| FilterChainMatch {
        server_names: names.iter().map(|n| (*n).to_owned()).collect(),
        ..FilterChainMatch::default()
    };
    let l = listener(
        vec![
            chain("none", FilterChainMatch::default()),
            chain("com", names(&["*.com"])),
            chain("example", names(&["*.example.com"])),
            chain("exact", names(&["www.example.com", "api.example.org"])),
        ],
        None,
    );
    let sni = |name: &str| tls("10.0.0.1:443", Some(name), &[]);
    assert_eq!(
        selected(&l, &sni("www.example.com")).as_deref(),
        Some("exact")
    );
    assert_eq!(
        selected(&l, &sni("api.example.org")).as_deref(),
        Some("exact")
    );
    assert_eq!(
        selected(&l, &sni("a.b.example.com")).as_deref(),
        Some("example")
    );
    assert_eq!(selected(&l, &sni("foo.com")).as_deref(), Some("com"));
    // `*.com` needs a label before the dot.
    assert_eq!(selected(&l, &sni("com")).as_deref(), Some("none"));
    assert_eq!(selected(&l, &sni("example.net")).as_deref(), Some("none"));
    assert_eq!(
        selected(&l, &tls("10.0.0.1:443", None, &[])).as_deref(),
        Some("none")
    );
}

#[test]
fn server_names_rank_before_transport_protocol() {
    let l = listener(
        vec![
            chain(
                "tls-any-name",
                FilterChainMatch {
                    transport_protocol: Some("tls".to_owned()),
                    ..FilterChainMatch::default()
                },
            ),
            chain(
                "named-raw",
                FilterChainMatch {
                    server_names: vec!["db.example.com".to_owned()],
                    transport_protocol: Some("raw_buffer".to_owned()),
                    ..FilterChainMatch::default()
                },
            ),
        ],
        None,
    );
    // The named chain wins at server_names and then fails on transport: no chain.
    assert_eq!(
        selected(&l, &tls("10.0.0.1:443", Some("db.example.com"), &[])),
        None
    );
    assert_eq!(
        selected(&l, &tls("10.0.0.1:443", Some("other.example.com"), &[])).as_deref(),
        Some("tls-any-name")
    );
}

#[test]
fn transport_and_application_protocols_select_istios_inbound_chains() {
    let chains = vec![
        chain(
            "mtls-http",
            FilterChainMatch {
                transport_protocol: Some("tls".to_owned()),
                application_protocols: vec!["istio-http/1.1".to_owned(), "istio-h2".to_owned()],
                ..FilterChainMatch::default()
            },
        ),
        chain(
            "mtls-tcp",
            FilterChainMatch {
                transport_protocol: Some("tls".to_owned()),
                ..FilterChainMatch::default()
            },
        ),
        chain(
            "plain-http",
            FilterChainMatch {
                transport_protocol: Some("raw_buffer".to_owned()),
                application_protocols: vec!["http/1.1".to_owned(), "h2c".to_owned()],
                ..FilterChainMatch::default()
            },
        ),
        chain(
            "plain-tcp",
            FilterChainMatch {
                transport_protocol: Some("raw_buffer".to_owned()),
                ..FilterChainMatch::default()
            },
        ),
    ];
    let l = listener(chains, None);
    let dst: SocketAddr = "10.0.0.1:9080".parse().unwrap();
    let input = |protocol: Protocol| ChainInput::detected(dst, &protocol);
    assert_eq!(
        selected(&l, &input(Protocol::Http1)).as_deref(),
        Some("plain-http")
    );
    assert_eq!(
        selected(&l, &input(Protocol::Http2)).as_deref(),
        Some("plain-http")
    );
    assert_eq!(
        selected(&l, &input(Protocol::Opaque)).as_deref(),
        Some("plain-tcp")
    );
    assert_eq!(
        selected(&l, &tls("10.0.0.1:9080", None, &["h2", "istio-h2"])).as_deref(),
        Some("mtls-http")
    );
    assert_eq!(
        selected(&l, &tls("10.0.0.1:9080", None, &["h2"])).as_deref(),
        Some("mtls-tcp")
    );
}

#[test]
fn application_protocols_follow_the_clients_order() {
    let alpn = |name: &str, protocols: &[&str]| {
        chain(
            name,
            FilterChainMatch {
                application_protocols: protocols.iter().map(|p| (*p).to_owned()).collect(),
                ..FilterChainMatch::default()
            },
        )
    };
    let l = listener(
        vec![alpn("h2", &["h2"]), alpn("http11", &["http/1.1"])],
        None,
    );
    assert_eq!(
        selected(&l, &tls("10.0.0.1:443", None, &["http/1.1", "h2"])).as_deref(),
        Some("http11")
    );
    assert_eq!(
        selected(&l, &tls("10.0.0.1:443", None, &["h2", "http/1.1"])).as_deref(),
        Some("h2")
    );
    assert_eq!(selected(&l, &tls("10.0.0.1:443", None, &["spdy"])), None);
}

#[test]
fn no_match_falls_to_the_default_chain_or_nothing() {
    let only_9080 = vec![chain("9080", port(9080))];
    assert_eq!(
        selected(&listener(only_9080.clone(), None), &to("10.0.0.1:80")),
        None
    );
    assert_eq!(
        selected(
            &listener(
                only_9080,
                Some(chain("passthrough", FilterChainMatch::default()))
            ),
            &to("10.0.0.1:80")
        )
        .as_deref(),
        Some("passthrough")
    );
    assert_eq!(
        selected(&listener(Vec::new(), None), &to("10.0.0.1:80")),
        None
    );
}

#[test]
fn only_chains_matching_on_first_bytes_need_inspection() {
    assert!(!needs_inspection(&listener(
        vec![chain("9080", port(9080))],
        None
    )));
    assert!(needs_inspection(&listener(
        vec![chain(
            "h2",
            FilterChainMatch {
                application_protocols: vec!["h2c".to_owned()],
                ..FilterChainMatch::default()
            }
        )],
        None
    )));
}
