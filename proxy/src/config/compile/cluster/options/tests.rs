use std::time::Duration;

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use mesh_xds::json::from_yaml;

use crate::config::{
    ClusterConfig, ConnectionOptions, TcpKeepalive, UpstreamProtocol, compile_cluster,
};

const TYPED: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

fn compile(fields: &str) -> Result<ClusterConfig, String> {
    let cluster: Cluster = from_yaml(&format!("name: c\ntype: EDS\n{fields}")).unwrap();
    compile_cluster(&cluster).map_err(|e| e.to_string())
}

/// `typed_extension_protocol_options` holding `HttpProtocolOptions` with `fields`.
fn typed(fields: &str) -> String {
    format!(
        "typed_extension_protocol_options: {{ {TYPED}: {{ '@type': type.googleapis.com/{TYPED}, {fields} }} }}"
    )
}

#[test]
fn without_options_connections_take_envoy_s_defaults() {
    let c = compile("").unwrap();
    assert_eq!(
        c.connection,
        ConnectionOptions {
            idle_timeout: Some(Duration::from_secs(3600)),
            max_requests_per_connection: None,
            max_connection_duration: None,
            tcp_keepalive: None,
            max_concurrent_streams: None,
        }
    );
    assert_eq!(c.panic_threshold, 50);
    assert_eq!(c.protocol, UpstreamProtocol::Http1);
}

#[test]
fn common_http_protocol_options_shape_the_pool() {
    let c = compile(&typed(
        "common_http_protocol_options: { idle_timeout: 30s, max_requests_per_connection: 3, \
         max_connection_duration: 600s }, explicit_http_config: { http2_protocol_options: \
         { max_concurrent_streams: 2147483647 } }",
    ))
    .unwrap();
    assert_eq!(
        c.connection,
        ConnectionOptions {
            idle_timeout: Some(Duration::from_secs(30)),
            max_requests_per_connection: Some(3),
            max_connection_duration: Some(Duration::from_secs(600)),
            tcp_keepalive: None,
            max_concurrent_streams: None,
        }
    );
    assert_eq!(c.protocol, UpstreamProtocol::Http2);
    // A zero idle timeout keeps idle connections; zero requests is no limit, as in Envoy.
    let c = compile(&typed(
        "common_http_protocol_options: { idle_timeout: 0s, max_requests_per_connection: 0 }",
    ))
    .unwrap();
    assert_eq!(
        (
            c.connection.idle_timeout,
            c.connection.max_requests_per_connection
        ),
        (None, None)
    );
    let c = compile(&typed(
        "use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} }",
    ))
    .unwrap();
    assert_eq!(c.protocol, UpstreamProtocol::UseDownstream);
}

#[test]
fn max_concurrent_streams_caps_the_streams_per_upstream_connection() {
    let streams =
        |fields: &str| compile(fields).map(|c| (c.protocol, c.connection.max_concurrent_streams));
    assert_eq!(
        streams(&typed(
            "explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 2 } }"
        )),
        Ok((UpstreamProtocol::Http2, Some(2)))
    );
    assert_eq!(
        streams(&typed(
            "use_downstream_protocol_config: { http2_protocol_options: { max_concurrent_streams: 100 } }"
        )),
        Ok((UpstreamProtocol::UseDownstream, Some(100)))
    );
    assert_eq!(
        streams("http2_protocol_options: { max_concurrent_streams: 1 }"),
        Ok((UpstreamProtocol::Http2, Some(1)))
    );
    // Envoy's default is no cap of its own, as unset is.
    assert_eq!(
        streams(&typed(
            "explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 2147483647 } }"
        )),
        Ok((UpstreamProtocol::Http2, None))
    );
    assert_eq!(
        streams(&typed(
            "explicit_http_config: { http2_protocol_options: {} }"
        )),
        Ok((UpstreamProtocol::Http2, None))
    );
    // The typed options win over the legacy field, as in Envoy.
    assert_eq!(
        streams(&format!(
            "http2_protocol_options: {{ max_concurrent_streams: 1 }}\n{}",
            typed("explicit_http_config: { http_protocol_options: {} }")
        )),
        Ok((UpstreamProtocol::Http1, None))
    );
}

#[test]
fn tcp_keepalive_is_read_from_upstream_connection_options() {
    let c = compile(
        "upstream_connection_options: { tcp_keepalive: { keepalive_probes: 9, keepalive_time: 300, keepalive_interval: 10 } }",
    )
    .unwrap();
    assert_eq!(
        c.connection.tcp_keepalive,
        Some(TcpKeepalive {
            probes: Some(9),
            time: Some(Duration::from_secs(300)),
            interval: Some(Duration::from_secs(10)),
        })
    );
    // An empty one turns keep-alive on with the system's values, as Istio means it.
    let c = compile("upstream_connection_options: { tcp_keepalive: {} }").unwrap();
    assert_eq!(c.connection.tcp_keepalive, Some(TcpKeepalive::default()));
    let c = compile("upstream_connection_options: {}").unwrap();
    assert_eq!(c.connection.tcp_keepalive, None);
}

#[test]
fn the_panic_threshold_is_rounded_to_a_whole_percent() {
    let threshold = |fields: &str| compile(fields).map(|c| c.panic_threshold);
    assert_eq!(
        threshold("common_lb_config: { healthy_panic_threshold: { value: 0 } }"),
        Ok(0)
    );
    assert_eq!(
        threshold("common_lb_config: { healthy_panic_threshold: { value: 33.5 } }"),
        Ok(34)
    );
    assert_eq!(
        threshold("common_lb_config: { healthy_panic_threshold: { value: 100 } }"),
        Ok(100)
    );
    assert_eq!(threshold("common_lb_config: {}"), Ok(50));
}

#[test]
fn what_cannot_be_honoured_is_refused_naming_the_field() {
    let options = format!("typed_extension_protocol_options.{TYPED}");
    let cases = [
        (
            typed("explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 0 } }"),
            format!("{options}.explicit_http_config.http2_protocol_options.max_concurrent_streams: 0 is outside 1..=2147483647"),
        ),
        (
            typed("use_downstream_protocol_config: { http2_protocol_options: { max_concurrent_streams: 2147483648 } }"),
            format!(
                "{options}.use_downstream_protocol_config.http2_protocol_options.max_concurrent_streams: 2147483648 is outside 1..=2147483647"
            ),
        ),
        (
            "http2_protocol_options: { max_concurrent_streams: 0 }".to_owned(),
            "http2_protocol_options.max_concurrent_streams: 0 is outside 1..=2147483647".to_owned(),
        ),
        (
            typed("common_http_protocol_options: { max_stream_duration: 5s }"),
            format!("{options}.common_http_protocol_options.max_stream_duration: not supported by mesh-proxy"),
        ),
        (
            typed("common_http_protocol_options: { max_connection_duration: 0s }"),
            format!("{options}.common_http_protocol_options.max_connection_duration: must be longer than 0s"),
        ),
        (
            typed("common_http_protocol_options: { headers_with_underscores_action: REJECT_REQUEST }"),
            format!(
                "{options}.common_http_protocol_options.headers_with_underscores_action: not supported by mesh-proxy"
            ),
        ),
        (
            "upstream_connection_options: { tcp_keepalive: { keepalive_probes: 0 } }".to_owned(),
            "upstream_connection_options.tcp_keepalive.keepalive_probes: 0 is outside 1..=127"
                .to_owned(),
        ),
        (
            "upstream_connection_options: { tcp_keepalive: { keepalive_time: 40000 } }".to_owned(),
            "upstream_connection_options.tcp_keepalive.keepalive_time: 40000 is outside 1..=32767"
                .to_owned(),
        ),
        (
            "upstream_connection_options: { tcp_keepalive: { keepalive_interval: 0 } }".to_owned(),
            "upstream_connection_options.tcp_keepalive.keepalive_interval: 0 is outside 1..=32767"
                .to_owned(),
        ),
        (
            "upstream_connection_options: { set_local_interface_name_on_upstream_connections: true }"
                .to_owned(),
            "upstream_connection_options.set_local_interface_name_on_upstream_connections: not supported by mesh-proxy"
                .to_owned(),
        ),
        (
            "common_lb_config: { healthy_panic_threshold: { value: -1 } }".to_owned(),
            "common_lb_config.healthy_panic_threshold: -1 is outside 0..=100".to_owned(),
        ),
    ];
    for (fields, want) in cases {
        assert_eq!(
            compile(&fields).map(|_| ()),
            Err(format!("Cluster \"c\": {want}")),
            "{fields}"
        );
    }
}
