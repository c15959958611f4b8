use envoy_types::pb::{
    envoy::{
        config::{
            core::v3::{GrpcService, grpc_service::EnvoyGrpc},
            trace::v3::{DatadogConfig, ZipkinConfig, tracing::Http},
        },
        r#type::{tracing::v3::CustomTag as PbCustomTag, tracing::v3::custom_tag, v3::Percent},
    },
    google::protobuf::{Any, BoolValue, Duration as PbDuration},
};
use prost::Message;

use super::*;

fn any<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

fn otel() -> OpenTelemetryConfig {
    OpenTelemetryConfig {
        grpc_service: Some(GrpcService {
            target_specifier: Some(TargetSpecifier::EnvoyGrpc(EnvoyGrpc {
                cluster_name: "otel-collector".into(),
                ..EnvoyGrpc::default()
            })),
            timeout: Some(PbDuration {
                seconds: 1,
                nanos: 0,
            }),
            ..GrpcService::default()
        }),
        service_name: "productpage.default".into(),
        ..OpenTelemetryConfig::default()
    }
}

fn with_provider(name: &str, config: Any) -> Tracing {
    Tracing {
        provider: Some(Http {
            name: name.into(),
            config_type: Some(ConfigType::TypedConfig(config)),
        }),
        ..Tracing::default()
    }
}

fn compile(t: &Tracing) -> Result<Option<Arc<TracingConfig>>, String> {
    tracing(t, &FieldPath::root().field("tracing")).map_err(|e| format!("{}: {}", e.path, e.reason))
}

#[test]
fn compiles_the_opentelemetry_tracer() {
    let mut t = with_provider("envoy.tracers.opentelemetry", any(&otel()));
    t.random_sampling = Some(Percent { value: 25.0 });
    t.custom_tags = vec![PbCustomTag {
        tag: "tenant".into(),
        r#type: Some(custom_tag::Type::RequestHeader(custom_tag::Header {
            name: "x-tenant".into(),
            default_value: "none".into(),
        })),
    }];
    let config = compile(&t).unwrap().unwrap();
    assert_eq!(config.random_sampling, 25.0);
    assert_eq!(config.client_sampling, 100.0);
    assert_eq!(config.overall_sampling, 100.0);
    assert_eq!(config.max_path_tag_length, 256);
    assert_eq!(
        config.custom_tags,
        vec![CustomTag {
            tag: "tenant".into(),
            value: TagValue::RequestHeader {
                name: HeaderName::from_static("x-tenant"),
                default: "none".into(),
            },
        }]
    );
    let service = &config.service;
    assert_eq!(service.cluster, "otel-collector");
    assert_eq!(service.authority, "otel-collector");
    assert_eq!(service.timeout, Duration::from_secs(1));
    assert!(service.send_grpc_timeout);
    assert_eq!(
        service.cluster_path.to_string(),
        "tracing.provider.typed_config.grpc_service.envoy_grpc.cluster_name"
    );
    assert_eq!(
        service.resource[0],
        ("service.name", "productpage.default".into())
    );
    assert_eq!(service.resource.len(), 4);
}

#[test]
fn no_provider_means_no_spans() {
    assert_eq!(compile(&Tracing::default()), Ok(None));
}

#[test]
fn refuses_other_tracers_naming_them() {
    let zipkin = with_provider("envoy.tracers.zipkin", any(&ZipkinConfig::default()));
    assert_eq!(
        compile(&zipkin).unwrap_err(),
        "tracing.provider.typed_config: tracer \"envoy.tracers.zipkin\" \
         (type.googleapis.com/envoy.config.trace.v3.ZipkinConfig) is not supported by \
         mesh-proxy: only envoy.tracers.opentelemetry (OTLP over gRPC) is"
    );
    let datadog = with_provider("envoy.tracers.datadog", any(&DatadogConfig::default()));
    assert!(
        compile(&datadog)
            .unwrap_err()
            .contains("tracer \"envoy.tracers.datadog\"")
    );
}

#[test]
fn refuses_what_it_does_not_implement() {
    let mut http = otel();
    http.grpc_service = None;
    http.http_service = Some(Default::default());
    let mut sdk_scope = otel();
    sdk_scope.set_instrumentation_scope = Some(BoolValue { value: true });
    let mut no_service = otel();
    no_service.grpc_service = None;
    let cases = [
        (
            with_provider("otel", any(&http)),
            "tracing.provider.typed_config.http_service: OTLP/HTTP is not supported by \
             mesh-proxy: export over gRPC with grpc_service",
        ),
        (
            with_provider("otel", any(&sdk_scope)),
            "tracing.provider.typed_config.set_instrumentation_scope: not supported by mesh-proxy",
        ),
        (
            with_provider("otel", any(&no_service)),
            "tracing.provider.typed_config.grpc_service: is required",
        ),
        (
            Tracing {
                verbose: true,
                ..with_provider("otel", any(&otel()))
            },
            "tracing.verbose: not supported by mesh-proxy",
        ),
        (
            Tracing {
                custom_tags: vec![PbCustomTag {
                    tag: "pod".into(),
                    r#type: Some(custom_tag::Type::Metadata(Default::default())),
                }],
                ..with_provider("otel", any(&otel()))
            },
            "tracing.custom_tags[0].metadata: custom tag type \"metadata\" is not supported by \
             mesh-proxy: use literal or request_header",
        ),
    ];
    for (t, expected) in cases {
        assert_eq!(compile(&t).unwrap_err(), expected);
    }
}
