//! The sidecar bootstrap fixture (also valid for a stock Envoy) read through mesh-xds's JSON.

use envoy_types::pb::{
    envoy::{
        config::{
            bootstrap::v3::Bootstrap,
            cluster::v3::cluster::DiscoveryType,
            core::v3::{
                ApiVersion, address, api_config_source::ApiType, config_source,
                grpc_service::TargetSpecifier, socket_address::PortSpecifier,
            },
            listener::v3::{filter, listener_filter},
            route::v3::{route, route_action, route_match},
        },
        extensions::{
            filters::network::http_connection_manager::v3::{
                HttpConnectionManager, http_connection_manager::RouteSpecifier, http_filter,
            },
            upstreams::http::v3::{
                HttpProtocolOptions, http_protocol_options::UpstreamProtocolOptions,
                http_protocol_options::explicit_http_config::ProtocolConfig,
            },
        },
    },
    google::protobuf::{Any, value::Kind},
};
use mesh_xds::json::{from_json, from_yaml, to_json};
use pretty_assertions::assert_eq;
use prost::{Message, Name};

const FIXTURE: &str = include_str!("data/bootstrap-sidecar.yaml");

fn bootstrap() -> Bootstrap {
    from_yaml(FIXTURE).expect("the fixture is a valid bootstrap")
}

fn unpack<M: Message + Default + Name>(any: &Any) -> M {
    assert_eq!(any.type_url, M::type_url());
    M::decode(any.value.as_slice()).expect("the Any holds its @type")
}

fn socket(address: &Option<envoy_types::pb::envoy::config::core::v3::Address>) -> (String, u32) {
    let Some(address::Address::SocketAddress(socket)) =
        address.as_ref().expect("an address").address.clone()
    else {
        panic!("not a socket address: {address:?}");
    };
    let Some(PortSpecifier::PortValue(port)) = socket.port_specifier else {
        panic!("no port value: {socket:?}");
    };
    (socket.address, port)
}

#[test]
fn node_and_admin() {
    let bootstrap = bootstrap();
    let node = bootstrap.node.unwrap();
    assert_eq!(
        node.id,
        "sidecar~198.18.0.5~reviews-v1-abc.default~default.svc.cluster.local"
    );
    assert_eq!(node.cluster, "reviews.default");
    let metadata = node.metadata.unwrap().fields;
    assert_eq!(
        metadata["SERVICE_ACCOUNT"].kind,
        Some(Kind::StringValue("bookinfo-reviews".to_string()))
    );
    let Some(Kind::StructValue(labels)) = &metadata["LABELS"].kind else {
        panic!("LABELS is not a struct: {:?}", metadata["LABELS"]);
    };
    assert_eq!(
        labels.fields["version"].kind,
        Some(Kind::StringValue("v1".to_string()))
    );
    assert_eq!(
        socket(&bootstrap.admin.unwrap().address),
        ("127.0.0.1".to_string(), 15000)
    );
}

#[test]
fn inbound_listener_and_its_http_connection_manager() {
    let resources = bootstrap().static_resources.unwrap();
    let [listener] = resources.listeners.as_slice() else {
        panic!("expected one listener: {:?}", resources.listeners);
    };
    assert_eq!(listener.name, "virtualInbound");
    assert_eq!(socket(&listener.address), ("0.0.0.0".to_string(), 15006));
    let Some(listener_filter::ConfigType::TypedConfig(original_dst)) =
        &listener.listener_filters[0].config_type
    else {
        panic!("no typed_config: {:?}", listener.listener_filters);
    };
    assert_eq!(
        original_dst.type_url,
        "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst"
    );

    let network_filter = &listener.filter_chains[0].filters[0];
    assert_eq!(
        network_filter.name,
        "envoy.filters.network.http_connection_manager"
    );
    let Some(filter::ConfigType::TypedConfig(any)) = &network_filter.config_type else {
        panic!("no typed_config: {network_filter:?}");
    };
    let hcm: HttpConnectionManager = unpack(any);
    assert_eq!(hcm.stat_prefix, "inbound_9080");
    assert_eq!(hcm.access_log[0].name, "envoy.access_loggers.stdout");

    let Some(RouteSpecifier::RouteConfig(routes)) = hcm.route_specifier else {
        panic!("no inline route_config: {:?}", hcm.route_specifier);
    };
    assert_eq!(routes.name, "inbound|9080||");
    let host = &routes.virtual_hosts[0];
    assert_eq!(host.domains, ["*"]);
    let route = &host.routes[0];
    assert_eq!(
        route.r#match.as_ref().unwrap().path_specifier,
        Some(route_match::PathSpecifier::Prefix("/".to_string()))
    );
    let Some(route::Action::Route(action)) = &route.action else {
        panic!("not a route action: {route:?}");
    };
    assert_eq!(
        action.cluster_specifier,
        Some(route_action::ClusterSpecifier::Cluster(
            "inbound|9080||".to_string()
        ))
    );
    assert_eq!(action.timeout.unwrap().seconds, 15);

    let [router] = hcm.http_filters.as_slice() else {
        panic!("expected one HTTP filter: {:?}", hcm.http_filters);
    };
    assert_eq!(router.name, "envoy.filters.http.router");
    let Some(http_filter::ConfigType::TypedConfig(router_config)) = &router.config_type else {
        panic!("no typed_config: {router:?}");
    };
    assert_eq!(
        router_config.type_url,
        "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"
    );
}

#[test]
fn xds_cluster_speaks_http2_and_ads_uses_it() {
    let bootstrap = bootstrap();
    let clusters = bootstrap.static_resources.unwrap().clusters;
    let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["xds-grpc", "inbound|9080||"]);

    let xds = &clusters[0];
    assert_eq!(xds.connect_timeout.unwrap().seconds, 1);
    assert_eq!(
        xds.cluster_discovery_type,
        Some(
            envoy_types::pb::envoy::config::cluster::v3::cluster::ClusterDiscoveryType::Type(
                DiscoveryType::Static as i32
            )
        )
    );
    let endpoint = &xds.load_assignment.as_ref().unwrap().endpoints[0].lb_endpoints[0];
    let Some(envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint::HostIdentifier::Endpoint(
        endpoint,
    )) = &endpoint.host_identifier
    else {
        panic!("not an endpoint: {endpoint:?}");
    };
    assert_eq!(socket(&endpoint.address), ("127.0.0.1".to_string(), 15010));

    let options: HttpProtocolOptions = unpack(
        &xds.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"],
    );
    let Some(UpstreamProtocolOptions::ExplicitHttpConfig(explicit)) =
        options.upstream_protocol_options
    else {
        panic!("no explicit_http_config: {options:?}");
    };
    assert!(
        matches!(
            explicit.protocol_config,
            Some(ProtocolConfig::Http2ProtocolOptions(_))
        ),
        "{explicit:?}"
    );

    let dynamic = bootstrap.dynamic_resources.unwrap();
    let ads = dynamic.ads_config.unwrap();
    assert_eq!(ads.api_type, ApiType::Grpc as i32);
    assert_eq!(ads.transport_api_version, ApiVersion::V3 as i32);
    assert_eq!(
        ads.grpc_services[0].target_specifier,
        Some(TargetSpecifier::EnvoyGrpc(
            envoy_types::pb::envoy::config::core::v3::grpc_service::EnvoyGrpc {
                cluster_name: "xds-grpc".to_string(),
                ..Default::default()
            }
        ))
    );
    for source in [dynamic.cds_config.unwrap(), dynamic.lds_config.unwrap()] {
        assert!(
            matches!(
                source.config_source_specifier,
                Some(config_source::ConfigSourceSpecifier::Ads(_))
            ),
            "{source:?}"
        );
        assert_eq!(source.resource_api_version, ApiVersion::V3 as i32);
    }
}

#[test]
fn round_trips_through_json() {
    let bootstrap = bootstrap();
    let json = to_json(&bootstrap).unwrap();
    assert_eq!(from_json::<Bootstrap>(&json).unwrap(), bootstrap);
    // Printed like Envoy's config dump: proto field names, Any expanded with its @type.
    assert_eq!(
        json["static_resources"]["clusters"][0]["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"],
        serde_json::json!({
            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {}},
        })
    );
    assert_eq!(
        json["dynamic_resources"]["lds_config"]["resource_api_version"],
        "V3"
    );
    // Printing is stable, so golden files do not churn.
    assert_eq!(
        to_json(&from_json::<Bootstrap>(&json).unwrap()).unwrap(),
        json
    );
}
