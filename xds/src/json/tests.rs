use envoy_types::pb::{
    envoy::{
        config::{bootstrap::v3::Bootstrap, cluster::v3::Cluster},
        extensions::filters::http::ext_authz::v3::ExtAuthz,
    },
    google::protobuf::Any,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;

fn bootstrap_error(value: Value) -> String {
    from_json::<Bootstrap>(&value).unwrap_err().to_string()
}

#[test]
fn pool_holds_the_messages_mesh_rs_reads_and_prints() {
    let missing: Vec<&str> = [
        "envoy.config.bootstrap.v3.Bootstrap",
        "envoy.config.listener.v3.Listener",
        "envoy.config.route.v3.RouteConfiguration",
        "envoy.config.cluster.v3.Cluster",
        "envoy.config.endpoint.v3.ClusterLoadAssignment",
        "envoy.extensions.transport_sockets.tls.v3.Secret",
        "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        "envoy.service.discovery.v3.DiscoveryRequest",
        "envoy.service.discovery.v3.DeltaDiscoveryResponse",
        "envoy.admin.v3.ConfigDump",
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        "envoy.extensions.filters.http.router.v3.Router",
        "envoy.extensions.filters.http.fault.v3.HTTPFault",
        "envoy.extensions.filters.http.cors.v3.Cors",
        "envoy.extensions.filters.http.rbac.v3.RBAC",
        "envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
        "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
        "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
        "envoy.extensions.access_loggers.file.v3.FileAccessLog",
    ]
    .into_iter()
    .filter(|name| message_descriptor(name).is_err())
    .collect();
    assert_eq!(missing, Vec::<&str>::new());
}

#[test]
fn a_released_pool_is_decoded_again_and_handles_outlive_it() {
    let before = message_descriptor("envoy.config.cluster.v3.Cluster").unwrap();
    release_descriptor_pool();
    let value = json!({ "name": "c", "connect_timeout": "1s" });
    let cluster: Cluster = from_json(&value).unwrap();
    assert_eq!(cluster.name, "c");
    // A descriptor taken before the release still reads messages: it holds its own pool.
    assert_eq!(before.full_name(), "envoy.config.cluster.v3.Cluster");
    assert_eq!(
        before
            .get_field_by_name("connect_timeout")
            .map(|f| f.number()),
        Some(4)
    );
    // Kept between uses until the next release: two handles share one decoded pool.
    let kept = descriptor_pool().unwrap();
    assert!(kept == descriptor_pool().unwrap());
    release_descriptor_pool();
    assert!(kept != descriptor_pool().unwrap());
}

#[test]
fn a_message_outside_the_descriptor_set_is_named() {
    let error = from_json::<ExtAuthz>(&json!({})).unwrap_err();
    assert_eq!(
        error.to_string(),
        "envoy.extensions.filters.http.ext_authz.v3.ExtAuthz is not in mesh-xds's Envoy \
         descriptor set: add its .proto to `cargo xtask gen`"
    );
}

#[test]
fn unknown_top_level_field_is_named() {
    assert_eq!(
        bootstrap_error(json!({"static_resourcez": {}})),
        r#"envoy.config.bootstrap.v3.Bootstrap: unknown field "static_resourcez""#
    );
}

#[test]
fn unknown_nested_field_names_its_path() {
    let value = json!({"static_resources": {"clusters": [{"name": "a"}, {"nmae": "b"}]}});
    assert_eq!(
        bootstrap_error(value),
        r#"envoy.config.bootstrap.v3.Bootstrap at static_resources.clusters[1]: unknown field "nmae""#
    );
}

#[test]
fn unknown_type_in_any_is_named() {
    let value = json!({"static_resources": {"listeners": [{
        "name": "l",
        "filter_chains": [{"filters": [{
            "name": "f",
            "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.network.nope.v3.Nope"},
        }]}],
    }]}});
    assert_eq!(
        bootstrap_error(value),
        "envoy.config.bootstrap.v3.Bootstrap at \
         static_resources.listeners[0].filter_chains[0].filters[0].typed_config: unknown \
         \"@type\": no message envoy.extensions.filters.network.nope.v3.Nope in Envoy's API as \
         mesh.rs knows it"
    );
}

#[test]
fn errors_inside_an_any_keep_their_path() {
    let value = json!({"static_resources": {"clusters": [{
        "name": "c",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http3_protocol_optionz": {}},
            },
        },
    }]}});
    assert_eq!(
        bootstrap_error(value),
        "envoy.config.bootstrap.v3.Bootstrap at static_resources.clusters[0]\
         .typed_extension_protocol_options.envoy.extensions.upstreams.http.v3.\
         HttpProtocolOptions.explicit_http_config: unknown field \"http3_protocol_optionz\""
    );
}

#[test]
fn wrong_value_type_is_reported_verbatim_at_its_path() {
    let value = json!({"admin": {"address": {"socket_address": {"port_value": "http"}}}});
    assert_eq!(
        bootstrap_error(value),
        "envoy.config.bootstrap.v3.Bootstrap at admin.address.socket_address.port_value: \
         invalid digit found in string"
    );
}

#[test]
fn unknown_enum_value_is_named() {
    let value = json!({"static_resources": {"clusters": [{"name": "c", "type": "STRICT"}]}});
    assert_eq!(
        bootstrap_error(value),
        r#"envoy.config.bootstrap.v3.Bootstrap at static_resources.clusters[0].type: unknown enum value "STRICT""#
    );
}

#[test]
fn camel_case_and_proto_names_read_the_same() {
    let camel: Cluster =
        from_json(&json!({"name": "c", "connectTimeout": "1.5s", "type": "EDS"})).unwrap();
    let snake: Cluster =
        from_json(&json!({"name": "c", "connect_timeout": "1.5s", "type": "EDS"})).unwrap();
    assert_eq!(camel, snake);
    let timeout = camel.connect_timeout.unwrap();
    assert_eq!((timeout.seconds, timeout.nanos), (1, 500_000_000));
}

#[test]
fn prints_proto_names_without_defaults_in_sorted_order() {
    let value = json!({
        "name": "outbound|9080||reviews.default.svc.cluster.local",
        "type": "EDS",
        "connectTimeout": "10s",
        "edsClusterConfig": {"edsConfig": {"ads": {}, "resourceApiVersion": "V3"}},
        "perConnectionBufferLimitBytes": 32768,
        "typedExtensionProtocolOptions": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "useDownstreamProtocolConfig": {"http2ProtocolOptions": {}},
            },
        },
    });
    let cluster: Cluster = from_json(&value).unwrap();
    let printed = to_json(&cluster).unwrap();
    assert_eq!(
        serde_json::to_string(&printed).unwrap(),
        concat!(
            r#"{"connect_timeout":"10s","#,
            r#""eds_cluster_config":{"eds_config":{"ads":{},"resource_api_version":"V3"}},"#,
            r#""name":"outbound|9080||reviews.default.svc.cluster.local","#,
            r#""per_connection_buffer_limit_bytes":32768,"#,
            r#""type":"EDS","#,
            r#""typed_extension_protocol_options":{"#,
            r#""envoy.extensions.upstreams.http.v3.HttpProtocolOptions":{"#,
            r#""@type":"type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions","#,
            r#""use_downstream_protocol_config":{"http2_protocol_options":{}}}}}"#,
        )
    );
    assert_eq!(from_json::<Cluster>(&printed).unwrap(), cluster);
}

#[test]
fn printing_an_any_of_an_unknown_type_names_it() {
    let any = Any {
        type_url: "type.googleapis.com/example.Unknown".to_string(),
        value: Vec::new(),
    };
    assert_eq!(
        to_json(&any).unwrap_err().to_string(),
        "google.protobuf.Any: cannot print as JSON: unknown \"@type\": no message \
         example.Unknown in Envoy's API as mesh.rs knows it"
    );
}

#[test]
fn yaml_syntax_errors_are_yaml_errors() {
    let error = from_yaml::<Bootstrap>("node: [id: x\n").unwrap_err();
    assert!(matches!(error, JsonError::Yaml(_)), "{error:?}");
    assert!(error.to_string().starts_with("invalid YAML: "), "{error}");
}

#[test]
fn yaml_reads_like_json() {
    let cluster: Cluster = from_yaml("name: c\ntype: STATIC\nconnect_timeout: 2s\n").unwrap();
    let expected: Cluster =
        from_json(&json!({"name": "c", "type": "STATIC", "connect_timeout": "2s"})).unwrap();
    assert_eq!(cluster, expected);
    assert_eq!(cluster.connect_timeout.unwrap().seconds, 2);
}
