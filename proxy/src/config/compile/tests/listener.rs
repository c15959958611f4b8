//! Listeners: the address, the listener filters and the filter chains' matches.

use std::{net::SocketAddr, time::Duration};

use envoy_types::pb::envoy::config::listener::v3::Listener;

use super::{HCM, TCP, error_text, http_listener, listener};
use crate::config::{CidrRange, FilterChainMatch, NetworkFilter, RouteSource, compile_listener};

#[test]
fn inbound_listener_with_inline_routes() {
    let l = listener(&format!(
        r#"
name: virtualInbound
address: {{ socket_address: {{ address: 0.0.0.0, port_value: 15006 }} }}
listener_filters:
  - name: envoy.filters.listener.original_dst
    typed_config: {{ "@type": type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst }}
  - name: envoy.filters.listener.http_inspector
listener_filters_timeout: 2s
filter_chains:
  - name: inbound|9080||
    filter_chain_match:
      destination_port: 9080
      prefix_ranges: [ {{ address_prefix: 10.0.0.0, prefix_len: 8 }} ]
      transport_protocol: raw_buffer
      application_protocols: [ http/1.1, h2c ]
      server_names: [ "*.example.com" ]
    filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": {HCM}
          stat_prefix: inbound_9080
          codec_type: HTTP1
          generate_request_id: false
          stream_idle_timeout: 30s
          access_log: [ {{ name: envoy.access_loggers.stdout, typed_config: {{ "@type": type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog }} }} ]
          route_config:
            name: inbound|9080||
            virtual_hosts: [ {{ name: all, domains: ["*"], routes: [ {{ match: {{ prefix: / }}, route: {{ cluster: "inbound|9080||" }} }} ] }} ]
          http_filters: [ {{ name: envoy.filters.http.router }} ]
"#
    ));
    let config = compile_listener(&l).unwrap();
    assert_eq!(config.name, "virtualInbound");
    assert_eq!(
        config.address,
        "0.0.0.0:15006".parse::<SocketAddr>().unwrap()
    );
    assert!(!config.use_original_dst);
    assert!(config.bind_to_port);
    assert!(config.inspect_protocols);
    assert_eq!(config.detection_timeout, Duration::from_secs(2));
    assert!(config.default_filter_chain.is_none());
    let chain = &config.filter_chains[0];
    assert_eq!(chain.name, "inbound|9080||");
    assert_eq!(
        chain.matcher,
        FilterChainMatch {
            destination_port: Some(9080),
            prefix_ranges: vec![CidrRange {
                address: "10.0.0.0".parse().unwrap(),
                prefix_len: 8
            }],
            server_names: vec!["*.example.com".to_owned()],
            transport_protocol: Some("raw_buffer".to_owned()),
            application_protocols: vec!["http/1.1".to_owned(), "h2c".to_owned()],
        }
    );
    let NetworkFilter::Http(hcm) = &chain.filter else {
        panic!("not HTTP: {:?}", chain.filter);
    };
    assert_eq!(hcm.stat_prefix, "inbound_9080");
    assert!(hcm.access_log);
    assert!(!hcm.generate_request_id);
    assert_eq!(hcm.stream_idle_timeout, Some(Duration::from_secs(30)));
    let RouteSource::Inline(table) = &hcm.routes else {
        panic!("not inline: {:?}", hcm.routes);
    };
    assert_eq!(table.name(), "inbound|9080||");
}

#[test]
fn listener_defaults_and_rds() {
    let mut l = http_listener("0.0.0.0_9080", 9080, "9080", "");
    l.bind_to_port = Some(envoy_types::pb::google::protobuf::BoolValue { value: false });
    let config = compile_listener(&l).unwrap();
    assert!(!config.bind_to_port);
    assert!(!config.inspect_protocols);
    assert_eq!(config.detection_timeout, Duration::from_secs(15));
    let NetworkFilter::Http(hcm) = &config.filter_chains[0].filter else {
        panic!("not HTTP");
    };
    assert!(matches!(&hcm.routes, RouteSource::Rds(name) if name == "9080"));
    assert!(hcm.generate_request_id);
    assert!(!hcm.access_log);
    assert_eq!(hcm.stream_idle_timeout, Some(Duration::from_secs(300)));
    assert_eq!(hcm.fault, None);
    assert!(!hcm.cors);
}

#[test]
fn listener_refusals_name_the_field() {
    let cases: Vec<(Listener, &str)> = vec![
        (
            listener(&format!(
                "name: l\naddress: {{ socket_address: {{ address: 0.0.0.0, port_value: 80 }} }}\nfilter_chains: [ {{ transport_socket: {{ name: tls }}, filters: [ {{ name: t, typed_config: {{ '@type': {TCP}, stat_prefix: s, cluster: c }} }} ] }} ]"
            )),
            "Listener \"l\": filter_chains[0].transport_socket.typed_config: is required",
        ),
        (
            listener(
                "name: l\naddress: { socket_address: { address: 0.0.0.0, port_value: 80 } }\nlistener_filters: [ { name: envoy.filters.listener.proxy_protocol } ]\ndefault_filter_chain: { filters: [] }",
            ),
            "Listener \"l\": listener_filters[0].name: listener filter \"envoy.filters.listener.proxy_protocol\" is not supported by mesh-proxy",
        ),
        (
            listener(
                "name: l\naddress: { socket_address: { address: 0.0.0.0, port_value: 80 } }\nfilter_chains: [ { filter_chain_match: { source_ports: [1] }, filters: [] } ]",
            ),
            "Listener \"l\": filter_chains[0].filter_chain_match.source_ports: not supported by mesh-proxy",
        ),
        (
            listener(
                "name: l\naddress: { socket_address: { address: example.com, port_value: 80 } }",
            ),
            "Listener \"l\": address.socket_address.address: \"example.com\" is not an IP address",
        ),
    ];
    for (l, expected) in cases {
        assert_eq!(error_text(compile_listener(&l)), expected);
    }
}
