use envoy_types::pb::{
    envoy::config::core::v3::HttpProtocolOptions as Common, google::protobuf::Duration,
};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;
use crate::mesh_config;

fn pool(value: Value) -> ConnectionPoolSettings {
    serde_json::from_value(value).unwrap()
}

fn options(protocol: Protocol, value: Value) -> HashMap<String, Any> {
    typed_options(protocol, Some(&pool(value)), &MeshConfig::default())
}

fn packed(options: HttpProtocolOptions) -> HashMap<String, Any> {
    HashMap::from([(HTTP_PROTOCOL_OPTIONS.to_string(), pack_any(options))])
}

fn seconds(seconds: i64) -> Option<Duration> {
    Some(Duration { seconds, nanos: 0 })
}

fn uint(value: u32) -> Option<UInt32Value> {
    Some(UInt32Value { value })
}

fn explicit_http2() -> Option<UpstreamProtocolOptions> {
    Some(UpstreamProtocolOptions::ExplicitHttpConfig(
        ExplicitHttpConfig {
            protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(
                Http2ProtocolOptions::default(),
            )),
        },
    ))
}

fn explicit_http1() -> Option<UpstreamProtocolOptions> {
    Some(UpstreamProtocolOptions::ExplicitHttpConfig(
        ExplicitHttpConfig {
            protocol_config: Some(ProtocolConfig::HttpProtocolOptions(
                Http1ProtocolOptions::default(),
            )),
        },
    ))
}

fn downstream() -> Option<UpstreamProtocolOptions> {
    Some(UpstreamProtocolOptions::UseDownstreamProtocolConfig(
        UseDownstreamHttpConfig {
            http_protocol_options: Some(Http1ProtocolOptions::default()),
            http2_protocol_options: Some(Http2ProtocolOptions::default()),
            http3_protocol_options: None,
        },
    ))
}

#[test]
fn pool_lifetimes_become_common_http_protocol_options() {
    assert_eq!(
        options(
            Protocol::Http,
            json!({
                "http": {"idleTimeout": "30s", "maxRequestsPerConnection": 1},
                "tcp": {"maxConnectionDuration": "1h", "idleTimeout": "5m"},
            })
        ),
        packed(HttpProtocolOptions {
            common_http_protocol_options: Some(Common {
                idle_timeout: seconds(30),
                max_requests_per_connection: uint(1),
                max_connection_duration: seconds(3600),
                ..Common::default()
            }),
            upstream_protocol_options: explicit_http1(),
            ..HttpProtocolOptions::default()
        })
    );
    // tcp.idleTimeout stands in for http.idleTimeout, as in Istio; on a gRPC port the options
    // keep its HTTP/2.
    assert_eq!(
        options(Protocol::Grpc, json!({"tcp": {"idleTimeout": "5m"}})),
        packed(HttpProtocolOptions {
            common_http_protocol_options: Some(Common {
                idle_timeout: seconds(300),
                ..Common::default()
            }),
            upstream_protocol_options: explicit_http2(),
            ..HttpProtocolOptions::default()
        })
    );
}

/// Istio's `tcp.idleTimeout: 0s` is sent as it is: Envoy's "no idle timeout".
#[test]
fn a_zero_tcp_idle_timeout_turns_the_idle_timeout_off() {
    assert_eq!(
        options(Protocol::Http, json!({"tcp": {"idleTimeout": "0s"}})),
        packed(HttpProtocolOptions {
            common_http_protocol_options: Some(Common {
                idle_timeout: seconds(0),
                ..Common::default()
            }),
            upstream_protocol_options: explicit_http1(),
            ..HttpProtocolOptions::default()
        })
    );
}

#[test]
fn unset_zero_and_unsendable_settings_send_nothing() {
    for value in [
        json!({"http": {"maxRequestsPerConnection": 0, "http2MaxRequests": 10}}),
        json!({"http": {"maxConcurrentStreams": 100}}),
        json!({"tcp": {"maxConnections": 5}}),
    ] {
        assert_eq!(
            options(Protocol::Http, value.clone()),
            HashMap::new(),
            "{value}"
        );
    }
}

#[test]
fn use_client_protocol_follows_the_downstream_unless_upgraded() {
    let use_client = json!({"http": {"useClientProtocol": true}});
    let only = |upstream| {
        packed(HttpProtocolOptions {
            upstream_protocol_options: upstream,
            ..HttpProtocolOptions::default()
        })
    };
    assert_eq!(
        options(Protocol::Http, use_client.clone()),
        only(downstream())
    );
    // It replaces a gRPC port's HTTP/2, as in Istio.
    assert_eq!(
        options(Protocol::Grpc, use_client.clone()),
        only(downstream())
    );
    // The mesh's upgrade policy is applied after it, and wins.
    let upgrade = MeshConfig {
        h2_upgrade_policy: mesh_config::H2UpgradePolicy::Upgrade,
        ..MeshConfig::default()
    };
    for protocol in [Protocol::Http, Protocol::Grpc] {
        assert_eq!(
            typed_options(protocol, Some(&pool(use_client.clone())), &upgrade),
            only(explicit_http2()),
            "{protocol:?}"
        );
    }
    assert_eq!(
        options(
            Protocol::Http,
            json!({"http": {"useClientProtocol": false}})
        ),
        HashMap::new()
    );
}

#[test]
fn tcp_keepalive_becomes_upstream_connection_options_in_whole_seconds() {
    let keepalive = |value: Value| {
        upstream_connection_options(Some(&pool(json!({"tcp": {"tcpKeepalive": value}}))))
            .and_then(|o| o.tcp_keepalive)
    };
    assert_eq!(
        keepalive(json!({"probes": 3, "time": "7200s", "interval": "75s"})),
        Some(TcpKeepalive {
            keepalive_probes: uint(3),
            keepalive_time: uint(7200),
            keepalive_interval: uint(75),
        })
    );
    // Rounded up to whole seconds and capped at what Linux takes; probes 0 is unset.
    assert_eq!(
        keepalive(json!({"probes": 0, "time": "1.5s", "interval": "10h"})),
        Some(TcpKeepalive {
            keepalive_probes: None,
            keepalive_time: uint(2),
            keepalive_interval: uint(32_767),
        })
    );
    assert_eq!(
        keepalive(json!({"probes": 500, "time": "100ms"})),
        Some(TcpKeepalive {
            keepalive_probes: uint(127),
            keepalive_time: uint(1),
            keepalive_interval: None,
        })
    );
    // An empty keepalive still turns SO_KEEPALIVE on.
    assert_eq!(keepalive(json!({})), Some(TcpKeepalive::default()));
    assert_eq!(
        upstream_connection_options(Some(&pool(json!({"tcp": {"maxConnections": 1}})))),
        None
    );
    assert_eq!(upstream_connection_options(None), None);
}

fn http2_capped(streams: u32) -> Option<UpstreamProtocolOptions> {
    Some(UpstreamProtocolOptions::ExplicitHttpConfig(
        ExplicitHttpConfig {
            protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(Http2ProtocolOptions {
                max_concurrent_streams: uint(streams),
                ..Http2ProtocolOptions::default()
            })),
        },
    ))
}

/// Istio caps the streams of HTTP/2 clusters only: gRPC and HTTP/2 ports and upgraded ones.
#[test]
fn max_concurrent_streams_caps_http2_clusters() {
    let only = |upstream| {
        packed(HttpProtocolOptions {
            upstream_protocol_options: upstream,
            ..HttpProtocolOptions::default()
        })
    };
    let capped = json!({"http": {"maxConcurrentStreams": 100}});
    assert_eq!(
        options(Protocol::Grpc, capped.clone()),
        only(http2_capped(100))
    );
    assert_eq!(
        options(Protocol::Http2, capped.clone()),
        only(http2_capped(100))
    );
    assert_eq!(
        options(
            Protocol::Http,
            json!({"http": {"maxConcurrentStreams": 7, "h2UpgradePolicy": "UPGRADE"}})
        ),
        only(http2_capped(7))
    );
    // Zero and negative values leave Envoy's default.
    for unset in [0, -1] {
        assert_eq!(
            options(
                Protocol::Grpc,
                json!({"http": {"maxConcurrentStreams": unset}})
            ),
            only(explicit_http2()),
            "{unset}"
        );
    }
    // The client's protocol replaces the HTTP/2 options, and the cap with them.
    assert_eq!(
        options(
            Protocol::Grpc,
            json!({"http": {"maxConcurrentStreams": 100, "useClientProtocol": true}})
        ),
        only(downstream())
    );
}
