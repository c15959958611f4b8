//! Telemetry `tracing` through [`for_proxy`] (client side) and [`for_inbound`] (server side):
//! which resources apply, in which order, and what each field does.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::{
    extensions::filters::network::http_connection_manager::v3::http_connection_manager::Tracing,
    r#type::tracing::v3::{CustomTag, custom_tag},
};
use pretty_assertions::assert_eq;

use super::super::{super::ProxyKind, ProxyTracing, for_inbound, for_proxy, may_trace};
use super::*;
use crate::{
    mesh_config::MeshConfig,
    model::{Service, test_support::build_valid_in},
};

const COLLECTOR: &str = "
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: otel-collector, namespace: observability}
spec:
  hosts: [otel-collector.observability.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 4317, name: grpc-otlp, protocol: GRPC}]
  endpoints: [{address: 198.18.0.50}]
";

/// Two providers to the same collector, told apart by their `maxTagLength`, and one of a kind
/// mesh.rs does not trace with.
const MESH: &str = "
defaultProviders: {tracing: [otel]}
defaultConfig: {tracing: {sampling: 5.0, customTags: {team: {literal: {value: books}}}}}
extensionProviders:
- name: otel
  opentelemetry: {service: otel-collector.observability.svc.cluster.local, port: 4317}
- name: otel-long
  opentelemetry:
    service: otel-collector.observability.svc.cluster.local
    port: 4317
    maxTagLength: 512
- name: zipkin
  zipkin: {service: zipkin.observability.svc.cluster.local, port: 9411}
";

fn snapshot_with(mesh: &str, config: &str) -> Snapshot {
    build_valid_in(
        &format!("{COLLECTOR}---\n{config}"),
        &MeshConfig::from_yaml(mesh).unwrap(),
    )
}

fn of(config: &str) -> Snapshot {
    snapshot_with(MESH, config)
}

fn proxy(namespace: &str, app: &str) -> Proxy {
    Proxy {
        kind: ProxyKind::Sidecar,
        ips: vec!["198.18.0.21".to_string()],
        pod: format!("{app}-1"),
        namespace: namespace.to_string(),
        labels: BTreeMap::from([("app".to_string(), app.to_string())]),
        service_account: String::new(),
        workload_name: app.to_string(),
    }
}

fn always(_: &Service, _: u16) -> bool {
    true
}

fn outbound(snapshot: &Snapshot, proxy: &Proxy) -> ProxyTracing {
    for_proxy(snapshot, proxy, &always)
}

fn inbound(snapshot: &Snapshot, proxy: &Proxy) -> ProxyTracing {
    for_inbound(snapshot, proxy, &always)
}

/// The random sampling of a side, `None` when it does not trace.
fn sampling(traced: &ProxyTracing) -> Option<f64> {
    let tracing = traced.tracing.as_ref()?;
    Some(tracing.random_sampling.as_ref()?.value)
}

/// The `maxTagLength` of the provider a side traces with: 0 for `otel`, 512 for `otel-long`.
fn tag_length(traced: &ProxyTracing) -> Option<u32> {
    let tracing: &Tracing = traced.tracing.as_ref()?;
    Some(tracing.max_path_tag_length.map_or(0, |l| l.value))
}

fn tag_names(traced: &ProxyTracing) -> Vec<String> {
    let tags = traced.tracing.iter().flat_map(|t| &t.custom_tags);
    tags.map(|t| t.tag.clone()).collect()
}

fn telemetry(namespace: &str, name: &str, spec: &str) -> String {
    format!(
        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\n\
         metadata: {{name: {name}, namespace: {namespace}}}\nspec: {spec}\n---\n"
    )
}

const ISTIO_TAGS: [&str; 5] = [
    "istio.canonical_revision",
    "istio.canonical_service",
    "istio.cluster_id",
    "istio.mesh_id",
    "istio.namespace",
];

#[test]
fn root_namespace_then_namespace_then_workload() {
    let config = [
        telemetry(
            "istio-system",
            "mesh-default",
            "{tracing: [{providers: [{name: otel-long}], randomSamplingPercentage: 10}]}",
        ),
        // A selector in the root namespace picks workloads of the root namespace only.
        telemetry(
            "istio-system",
            "reviews-everywhere",
            "{selector: {matchLabels: {app: reviews}}, tracing: [{randomSamplingPercentage: 99}]}",
        ),
        telemetry(
            "default",
            "namespace",
            "{tracing: [{randomSamplingPercentage: 20}]}",
        ),
        telemetry(
            "default",
            "reviews",
            "{selector: {matchLabels: {app: reviews}}, tracing: [{randomSamplingPercentage: 30}]}",
        ),
    ]
    .concat();
    let snapshot = of(&config);
    let traced = |namespace, app| {
        let traced = outbound(&snapshot, &proxy(namespace, app));
        assert_eq!(traced.warnings, Vec::<String>::new());
        (sampling(&traced), tag_length(&traced))
    };
    // The workload's Telemetry overrides the sampling; the provider is the mesh-wide one's.
    assert_eq!(traced("default", "reviews"), (Some(30.0), Some(512)));
    assert_eq!(traced("default", "ratings"), (Some(20.0), Some(512)));
    assert_eq!(traced("shop", "reviews"), (Some(10.0), Some(512)));
    // Without Telemetry, the mesh config's provider and sampling.
    let plain = snapshot_with(MESH, "");
    assert_eq!(
        (
            sampling(&outbound(&plain, &proxy("shop", "x"))),
            tag_length(&outbound(&plain, &proxy("shop", "x")))
        ),
        (Some(5.0), Some(0))
    );
}

#[test]
fn match_mode_picks_the_side() {
    let snapshot = of(&telemetry(
        "default",
        "sides",
        "{tracing: [
          {match: {mode: CLIENT}, disableSpanReporting: true},
          {match: {mode: SERVER}, randomSamplingPercentage: 50, providers: [{name: otel-long}]},
          {randomSamplingPercentage: 40}]}",
    ));
    let reviews = proxy("default", "reviews");
    let client = outbound(&snapshot, &reviews);
    assert_eq!((client.tracing, client.collector), (None, None));
    // The last entry applies to both sides; the server side keeps its own provider.
    let server = inbound(&snapshot, &reviews);
    assert_eq!(
        (sampling(&server), tag_length(&server)),
        (Some(40.0), Some(512))
    );
    assert_eq!(
        server.collector.as_deref(),
        Some("outbound|4317||otel-collector.observability.svc.cluster.local")
    );
    // A gateway traces as the client side does.
    let gateway = Proxy {
        kind: ProxyKind::Router,
        ..proxy("default", "ingress")
    };
    assert_eq!(outbound(&snapshot, &gateway).tracing, None);
    // Span reporting turned back on by a more specific Telemetry.
    let on_again = of(&[
        telemetry(
            "istio-system",
            "turned-off",
            "{tracing: [{disableSpanReporting: true}]}",
        ),
        telemetry(
            "default",
            "turned-on",
            "{tracing: [{disableSpanReporting: false}]}",
        ),
    ]
    .concat());
    assert_eq!(sampling(&outbound(&on_again, &reviews)), Some(5.0));
    assert_eq!(sampling(&outbound(&on_again, &proxy("shop", "x"))), None);
}

#[test]
fn providers_are_looked_up_by_name() {
    let snapshot = of(&telemetry(
        "default",
        "names",
        "{tracing: [{providers: [{name: jaeger}, {name: otel-long}, {name: otel}]}]}",
    ));
    let traced = outbound(&snapshot, &proxy("default", "reviews"));
    assert_eq!(tag_length(&traced), Some(512));
    assert_eq!(
        traced.warnings,
        vec![
            "Telemetry default/names spec.tracing[0].providers[0]: no extensionProviders entry \
             of the mesh config is named \"jaeger\"; it is skipped, as in Istio"
        ]
    );
    // A provider mesh.rs cannot trace with leaves tracing off, and says why.
    let zipkin = snapshot_with(
        MESH,
        &telemetry(
            "default",
            "zipkin",
            "{tracing: [{providers: [{name: zipkin}]}]}",
        ),
    );
    let traced = outbound(&zipkin, &proxy("default", "reviews"));
    assert_eq!(traced.tracing, None);
    assert_eq!(
        traced.warnings,
        vec![
            "tracing provider \"zipkin\": extensionProviders[2] is a zipkin provider; mesh.rs \
             traces over OpenTelemetry only; tracing is off"
        ]
    );
}

#[test]
fn a_telemetry_turns_tracing_on_without_a_default_provider() {
    let mesh = MESH.replace(
        "defaultProviders: {tracing: [otel]}",
        "enableTracing: false",
    );
    let selected = snapshot_with(
        &mesh,
        &telemetry(
            "default",
            "turned-on",
            "{selector: {matchLabels: {app: reviews}}, tracing: [{providers: [{name: otel}]}]}",
        ),
    );
    assert!(may_trace(&selected));
    assert_eq!(
        sampling(&outbound(&selected, &proxy("default", "reviews"))),
        Some(5.0)
    );
    assert_eq!(
        outbound(&selected, &proxy("default", "ratings")),
        ProxyTracing::default()
    );
    // An entry without a provider where none applies is reported.
    let nameless = snapshot_with(
        &mesh,
        &telemetry(
            "default",
            "nameless",
            "{tracing: [{randomSamplingPercentage: 3}]}",
        ),
    );
    assert!(!may_trace(&nameless));
    assert_eq!(
        outbound(&nameless, &proxy("default", "reviews")),
        ProxyTracing {
            warnings: vec![
                "Telemetry default/nameless spec.tracing[0]: no tracing provider applies (no \
                 Telemetry entry names one, and defaultProviders.tracing names none or \
                 enableTracing is off); tracing is off"
                    .to_string()
            ],
            ..ProxyTracing::default()
        }
    );
}

#[test]
fn custom_tags_replace_the_mesh_config_s() {
    let snapshot = of(&telemetry(
        "default",
        "tags",
        "{tracing: [{customTags: {
           env: {literal: {value: prod}},
           user: {header: {name: x-user, defaultValue: anonymous}},
           host: {environment: {name: HOSTNAME}}}}]}",
    ));
    let traced = inbound(&snapshot, &proxy("default", "reviews"));
    assert_eq!(
        traced.warnings,
        vec![
            "Telemetry default/tags spec.tracing[0].customTags.host: environment tags are not \
             supported by mesh-proxy; the tag is left out"
        ]
    );
    // In tag order, as Istio sorts them.
    let mut names = vec!["env"];
    names.extend(ISTIO_TAGS);
    names.push("user");
    assert_eq!(tag_names(&traced), names);
    let tags = &traced.tracing.unwrap().custom_tags;
    assert_eq!(
        (&tags[0], &tags[6]),
        (
            &CustomTag {
                tag: "env".to_string(),
                r#type: Some(custom_tag::Type::Literal(custom_tag::Literal {
                    value: "prod".to_string(),
                })),
            },
            &CustomTag {
                tag: "user".to_string(),
                r#type: Some(custom_tag::Type::RequestHeader(custom_tag::Header {
                    name: "x-user".to_string(),
                    default_value: "anonymous".to_string(),
                })),
            }
        )
    );
    // Without Telemetry tags, the mesh config's.
    let plain = snapshot_with(MESH, "");
    let mut names: Vec<&str> = ISTIO_TAGS.to_vec();
    names.push("team");
    assert_eq!(
        tag_names(&outbound(&plain, &proxy("default", "reviews"))),
        names
    );
    // Istio's tags can be turned off.
    let bare = of(&telemetry(
        "default",
        "bare",
        "{tracing: [{enableIstioTags: false, customTags: {env: {literal: {value: prod}}}}]}",
    ));
    assert_eq!(
        tag_names(&outbound(&bare, &proxy("default", "reviews"))),
        vec!["env"]
    );
}

#[test]
fn sampling_by_request_id_cannot_be_turned_off() {
    let snapshot = of(&telemetry(
        "default",
        "ids",
        "{tracing: [{useRequestIdForTraceSampling: false}]}",
    ));
    let traced = outbound(&snapshot, &proxy("default", "reviews"));
    assert_eq!(sampling(&traced), Some(5.0));
    assert_eq!(
        traced.warnings,
        vec![
            "Telemetry default/ids spec.tracing[0].useRequestIdForTraceSampling: false is not \
             supported: mesh-proxy samples by the request id, as Envoy does by default; requests \
             are sampled by it still"
        ]
    );
    let on = snapshot_with(
        MESH,
        &telemetry(
            "default",
            "ids",
            "{tracing: [{useRequestIdForTraceSampling: true}]}",
        ),
    );
    assert_eq!(
        outbound(&on, &proxy("default", "reviews")).warnings,
        Vec::<String>::new()
    );
}

#[test]
fn one_telemetry_per_level_and_targeted_ones_apply_to_no_workload() {
    let snapshot = of(&[
        telemetry("default", "a", "{tracing: [{randomSamplingPercentage: 1}]}"),
        telemetry("default", "b", "{tracing: [{randomSamplingPercentage: 2}]}"),
        telemetry(
            "default",
            "c",
            "{selector: {matchLabels: {app: reviews}}, tracing: [{randomSamplingPercentage: 3}]}",
        ),
        telemetry(
            "default",
            "d",
            "{selector: {matchLabels: {app: reviews}}, tracing: [{randomSamplingPercentage: 4}]}",
        ),
        telemetry(
            "default",
            "e",
            "{targetRefs: [{kind: Service, name: reviews}], \
                  tracing: [{randomSamplingPercentage: 5}]}",
        ),
    ]
    .concat());
    let traced = outbound(&snapshot, &proxy("default", "reviews"));
    assert_eq!(sampling(&traced), Some(3.0));
    assert_eq!(
        traced.warnings,
        vec![
            "Telemetry default/b is not used: Telemetry default/a, older, applies to the same \
             namespace, and only one does, as in Istio",
            "Telemetry default/d is not used: Telemetry default/c, older, applies to the same \
             workload, and only one does, as in Istio",
        ]
    );
    // The inbound side reports each warning once.
    assert_eq!(
        inbound(&snapshot, &proxy("default", "reviews")).warnings,
        traced.warnings
    );
    assert_eq!(
        sampling(&outbound(&snapshot, &proxy("default", "ratings"))),
        Some(1.0)
    );
}
