use std::collections::BTreeMap;

use envoy_types::pb::{
    envoy::{
        config::core::v3::{GrpcService, grpc_service},
        r#type::tracing::v3::{CustomTag, custom_tag},
    },
    google::protobuf::Duration,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{exporter::service_name, tags::canonical, *};
use crate::model::test_support::{istio, valid_snapshot};

const COLLECTOR: &str = "otel-collector.observability.svc.cluster.local";
const CLUSTER: &str = "outbound|4317||otel-collector.observability.svc.cluster.local";

/// The collector as a ServiceEntry of `namespace`, and the mesh config `mesh`.
fn snapshot(mesh: &str, collector_namespaces: &[&str]) -> Snapshot {
    let entries: Vec<_> = collector_namespaces
        .iter()
        .map(|namespace| {
            let spec = json!({
                "hosts": [COLLECTOR],
                "location": "MESH_INTERNAL",
                "resolution": "STATIC",
                "ports": [{"number": 4317, "name": "grpc-otlp", "protocol": "GRPC"}],
                "endpoints": [{"address": "198.18.0.50"}],
            });
            istio("ServiceEntry", namespace, "otel-collector", spec)
        })
        .collect();
    valid_snapshot(&entries, &MeshConfig::from_yaml(mesh).unwrap())
}

const OTEL_MESH: &str = "
defaultProviders: {tracing: [otel], metrics: [prometheus]}
defaultConfig: {discoveryAddress: 'istiod:15012', tracing: {sampling: 10.0}}
extensionProviders:
- name: otel
  opentelemetry:
    service: otel-collector.observability.svc.cluster.local
    port: 4317
    maxTagLength: 99
    grpc: {timeout: 2s}
- name: prometheus
  prometheus: {}
";

fn proxy(kind: ProxyKind, labels: &[(&str, &str)], workload: &str) -> Proxy {
    Proxy {
        kind,
        ips: vec!["198.18.0.21".to_string()],
        pod: "reviews-v1-1".to_string(),
        namespace: "default".to_string(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        service_account: String::new(),
        workload_name: workload.to_string(),
    }
}

fn reviews() -> Proxy {
    proxy(
        ProxyKind::Sidecar,
        &[("app", "reviews"), ("version", "v1")],
        "reviews-v1",
    )
}

fn always(_: &Service, _: u16) -> bool {
    true
}

fn literal(tag: &str, value: &str) -> CustomTag {
    CustomTag {
        tag: tag.to_string(),
        r#type: Some(custom_tag::Type::Literal(custom_tag::Literal {
            value: value.to_string(),
        })),
    }
}

fn expected(service_name: &str, service: &str, revision: &str, gateway: bool) -> Tracing {
    let config = OpenTelemetryConfig {
        grpc_service: Some(GrpcService {
            target_specifier: Some(grpc_service::TargetSpecifier::EnvoyGrpc(
                grpc_service::EnvoyGrpc {
                    cluster_name: CLUSTER.to_string(),
                    authority: COLLECTOR.to_string(),
                    ..grpc_service::EnvoyGrpc::default()
                },
            )),
            timeout: Some(Duration {
                seconds: 2,
                nanos: 0,
            }),
            ..GrpcService::default()
        }),
        service_name: service_name.to_string(),
        ..OpenTelemetryConfig::default()
    };
    Tracing {
        client_sampling: Some(Percent { value: 100.0 }),
        random_sampling: Some(Percent { value: 10.0 }),
        overall_sampling: Some(Percent { value: 100.0 }),
        max_path_tag_length: Some(UInt32Value { value: 99 }),
        custom_tags: vec![
            literal("istio.canonical_revision", revision),
            literal("istio.canonical_service", service),
            literal("istio.cluster_id", "Kubernetes"),
            literal("istio.mesh_id", "cluster.local"),
            literal("istio.namespace", "default"),
        ],
        provider: Some(Http {
            name: "envoy.tracers.opentelemetry".to_string(),
            config_type: Some(ConfigType::TypedConfig(pack_any(config))),
        }),
        spawn_upstream_span: gateway.then_some(BoolValue { value: true }),
        ..Tracing::default()
    }
}

#[test]
fn tracing_is_off_unless_the_mesh_selects_a_provider() {
    for mesh in [
        "",
        "extensionProviders: [{name: otel, opentelemetry: {service: x, port: 4317}}]",
        "enableTracing: false\ndefaultProviders: {tracing: [otel]}\nextensionProviders: [{name: otel, opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}}]",
    ] {
        let snapshot = snapshot(mesh, &["observability"]);
        assert_eq!(
            for_proxy(&snapshot, &reviews(), &always),
            ProxyTracing::default(),
            "{mesh}"
        );
    }
}

#[test]
fn an_opentelemetry_provider_traces_as_istio_configures_it() {
    let snapshot = snapshot(OTEL_MESH, &["observability"]);
    let traced = for_proxy(&snapshot, &reviews(), &always);
    assert_eq!(
        traced,
        ProxyTracing {
            tracing: Some(expected("reviews.default", "reviews", "v1", false)),
            collector: Some(CLUSTER.to_string()),
            warnings: Vec::new(),
        }
    );
    // A gateway spans each upstream request too.
    let gateway = proxy(ProxyKind::Router, &[("app", "istio-ingressgateway")], "");
    assert_eq!(
        for_proxy(&snapshot, &gateway, &always).tracing,
        Some(expected(
            "istio-ingressgateway.default",
            "istio-ingressgateway",
            "latest",
            true
        ))
    );
}

#[test]
fn workloads_are_named_as_istio_names_them() {
    let named = |labels: &[(&str, &str)], workload: &str| {
        let proxy = proxy(ProxyKind::Sidecar, labels, workload);
        (service_name(&proxy), canonical(&proxy))
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        named(
            &[
                ("service.istio.io/canonical-name", "ratings"),
                ("service.istio.io/canonical-revision", "r7"),
                ("app", "ratings-app"),
                ("version", "v1"),
            ],
            "ratings-v1"
        ),
        ("ratings-app.default".to_string(), pair("ratings", "r7"))
    );
    assert_eq!(
        named(
            &[
                ("app.kubernetes.io/name", "shop"),
                ("app.kubernetes.io/version", "2.1")
            ],
            "shop-v2"
        ),
        ("shop-v2.default".to_string(), pair("shop", "2.1"))
    );
    assert_eq!(
        named(&[], ""),
        ("istio-proxy.default".to_string(), pair("unknown", "latest"))
    );
}

#[test]
fn sampling_follows_istio_s_defaults() {
    let sampling = |yaml: &str| {
        MeshConfig::from_yaml(yaml)
            .unwrap()
            .default_config
            .sampling()
    };
    assert_eq!(sampling(""), 1.0);
    assert_eq!(sampling("defaultConfig: {tracing: {sampling: 0}}"), 1.0);
    assert_eq!(sampling("defaultConfig: {tracing: {sampling: 100}}"), 100.0);
    assert_eq!(sampling("defaultConfig: {tracing: {sampling: 100.5}}"), 1.0);
    assert_eq!(sampling("defaultConfig: {tracing: {sampling: 0.25}}"), 0.25);
}

#[test]
fn what_cannot_be_honoured_is_reported_and_leaves_tracing_off() {
    let provider = |otel: &str| {
        format!(
            "defaultProviders: {{tracing: [otel]}}\nextensionProviders:\n- name: otel\n  {otel}\n"
        )
    };
    let otel = |fields: &str| {
        provider(&format!(
            "opentelemetry: {{service: otel-collector.observability.svc.cluster.local, port: 4317{fields}}}"
        ))
    };
    let off = "; tracing is off";
    let cases = [
        (
            "defaultProviders: {tracing: [jaeger]}".to_string(),
            format!("tracing provider \"jaeger\": no extensionProviders entry has this name{off}"),
        ),
        (
            provider("zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}"),
            format!(
                "tracing provider \"otel\": extensionProviders[0] is a zipkin provider; mesh.rs \
                 traces over OpenTelemetry only{off}"
            ),
        ),
        (
            otel(", http: {path: /v1/traces}"),
            format!(
                "tracing provider \"otel\": extensionProviders[0].opentelemetry.http is not \
                 supported (spans are exported over gRPC, with no resource detectors or \
                 samplers){off}"
            ),
        ),
        (
            otel(", grpc: {initialMetadata: [{name: x, value: y}]}"),
            format!(
                "tracing provider \"otel\": extensionProviders[0].opentelemetry.grpc.\
                 initialMetadata is not supported{off}"
            ),
        ),
        (
            provider(
                "opentelemetry: {service: otel-collector.elsewhere.svc.cluster.local, port: 4317}",
            ),
            format!(
                "tracing provider \"otel\": extensionProviders[0]: no service \
                 otel-collector.elsewhere.svc.cluster.local in the registry{off}"
            ),
        ),
        (
            provider(
                "opentelemetry: {service: tracing/otel-collector.observability.svc.cluster.local, port: 4317}",
            ),
            format!(
                "tracing provider \"otel\": extensionProviders[0]: no service \
                 otel-collector.observability.svc.cluster.local in namespace tracing{off}"
            ),
        ),
        (
            provider(
                "opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 70000}",
            ),
            format!(
                "tracing provider \"otel\": extensionProviders[0].opentelemetry.port 70000 is \
                 not a port{off}"
            ),
        ),
    ];
    for (mesh, warning) in cases {
        let snapshot = snapshot(&mesh, &["observability"]);
        let traced = for_proxy(&snapshot, &reviews(), &always);
        assert_eq!(traced.tracing, None, "{mesh}");
        assert_eq!(traced.collector, None, "{mesh}");
        assert_eq!(traced.warnings, vec![warning], "{mesh}");
    }
    // The duration's own error follows the field path.
    let mesh = otel(", grpc: {timeout: soon}");
    let traced = for_proxy(&snapshot(&mesh, &["observability"]), &reviews(), &always);
    assert_eq!((traced.tracing, traced.warnings.len()), (None, 1));
    assert!(
        traced.warnings[0].starts_with(
            "tracing provider \"otel\": extensionProviders[0].opentelemetry.grpc.timeout: \
             invalid duration \"soon\": "
        ),
        "{:?}",
        traced.warnings
    );
}

#[test]
fn the_collector_must_be_one_service_the_proxy_has_a_cluster_for() {
    let mesh = "defaultProviders: {tracing: [otel]}\nextensionProviders: [{name: otel, \
                opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}}]";
    let twice = snapshot(mesh, &["observability", "tracing"]);
    assert_eq!(
        for_proxy(&twice, &reviews(), &always).warnings,
        vec![
            "tracing provider \"otel\": extensionProviders[0]: \
             otel-collector.observability.svc.cluster.local is declared in several namespaces: \
             write <namespace>/otel-collector.observability.svc.cluster.local; tracing is off"
        ]
    );
    // Named with its namespace, it is found.
    let named = mesh.replace("service: otel", "service: tracing/otel");
    let traced = for_proxy(
        &snapshot(&named, &["observability", "tracing"]),
        &reviews(),
        &always,
    );
    assert_eq!(
        (traced.collector.as_deref(), traced.warnings.len()),
        (Some(CLUSTER), 0)
    );
    let never = |_: &Service, _: u16| false;
    assert_eq!(
        for_proxy(&snapshot(mesh, &["observability"]), &reviews(), &never).warnings,
        vec![
            "tracing provider \"otel\": extensionProviders[0]: this proxy has no cluster for \
             port 4317 of otel-collector.observability.svc.cluster.local (the service must be \
             visible to it, its Sidecar's egress hosts must admit it, and its endpoints must be \
             sent by the control plane); tracing is off"
        ]
    );
}

#[test]
fn only_the_first_default_provider_is_used_and_a_bad_sampling_is_reported() {
    let mesh = OTEL_MESH
        .replace("tracing: [otel]", "tracing: [otel, zipkin]")
        .replace("sampling: 10.0", "sampling: -3");
    let traced = for_proxy(&snapshot(&mesh, &["observability"]), &reviews(), &always);
    assert_eq!(
        traced.warnings,
        vec![
            "defaultProviders.tracing names 2 providers; only the first, \"otel\", is used, as in Istio",
            "defaultConfig.tracing.sampling -3 is not a percentage; 1% is used",
        ]
    );
    let random = traced.tracing.and_then(|t| t.random_sampling);
    assert_eq!(random, Some(Percent { value: 1.0 }));
}

#[test]
fn proxy_config_tags_and_path_length_join_istio_s() {
    let mesh = "
defaultProviders: {tracing: [otel]}
defaultConfig:
  tracing:
    maxPathTagLength: 64
    zipkin: {address: zipkin:9411}
    customTags:
      team: {literal: {value: books}}
      user: {header: {name: x-user, defaultValue: anonymous}}
      host: {environment: {name: HOSTNAME}}
extensionProviders:
- name: otel
  opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}
";
    let traced = for_proxy(&snapshot(mesh, &["observability"]), &reviews(), &always);
    assert_eq!(
        traced.warnings,
        vec![
            "defaultConfig.tracing.zipkin has no effect: spans go to the provider of defaultProviders.tracing",
            "defaultConfig.tracing.customTags.host: environment tags are not supported by \
             mesh-proxy; the tag is left out",
        ]
    );
    let tracing = traced.tracing.unwrap();
    assert_eq!(tracing.max_path_tag_length, Some(UInt32Value { value: 64 }));
    let names: Vec<&str> = tracing.custom_tags.iter().map(|t| t.tag.as_str()).collect();
    assert_eq!(
        names,
        [
            "istio.canonical_revision",
            "istio.canonical_service",
            "istio.cluster_id",
            "istio.mesh_id",
            "istio.namespace",
            "team",
            "user"
        ]
    );
    assert_eq!(tracing.custom_tags[5], literal("team", "books"));
    assert_eq!(
        tracing.custom_tags[6],
        CustomTag {
            tag: "user".to_string(),
            r#type: Some(custom_tag::Type::RequestHeader(custom_tag::Header {
                name: "x-user".to_string(),
                default_value: "anonymous".to_string(),
            })),
        }
    );
}
