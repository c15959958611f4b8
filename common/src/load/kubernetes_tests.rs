//! The Kubernetes kinds: read into k8s-openapi's types, placed, checked and reported like
//! Istio's.

use std::path::Path;

use pretty_assertions::assert_eq;

use super::*;

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  \
                         labels: {mesh-injection: enabled}\n";

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\nspec:\n  \
                       selector: {app: reviews}\n  ports:\n  - name: http\n    port: 9080\n";

const ENDPOINT_SLICE: &str = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  \
                              name: reviews-1\n  namespace: shop\n  \
                              labels: {kubernetes.io/service-name: reviews}\n\
                              addressType: IPv4\nports: [{name: http, port: 9080}]\n\
                              endpoints:\n- addresses: [10.0.0.7]\n  \
                              conditions: {ready: true}\n";

const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: reviews-v1\n  namespace: shop\n\
                   spec:\n  serviceAccountName: reviews\n  containers: [{name: reviews}]\n\
                   status:\n  podIP: 10.0.0.7\n";

fn load(text: &str, name: &str) -> LoadResult {
    load_str(text, Path::new(name), &LoadOptions::default())
}

fn resources(result: &LoadResult) -> Vec<String> {
    let show = |l: &Loaded| format!("{} {} {}", l.origin, l.api_version, l.object.key());
    result.resources.iter().map(show).collect()
}

fn errors(result: &LoadResult) -> Vec<String> {
    result.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn kubernetes_objects_load_as_their_types() {
    let text = format!("{NAMESPACE}---\n{SERVICE}---\n{ENDPOINT_SLICE}---\n{POD}");
    let result = load(&text, "shop.yaml");
    assert_eq!(errors(&result), Vec::<String>::new());
    assert_eq!(
        resources(&result),
        vec![
            "shop.yaml:1 v1 Namespace shop",
            "shop.yaml:7 v1 Service default/reviews",
            "shop.yaml:17 discovery.k8s.io/v1 EndpointSlice shop/reviews-1",
            "shop.yaml:29 v1 Pod shop/reviews-v1",
        ]
    );

    let LoadedObject::Namespace(namespace) = &result.resources[0].object else {
        panic!("not a Namespace: {:?}", result.resources[0].object);
    };
    let labels = namespace.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["mesh-injection"], "enabled");

    let LoadedObject::Service(service) = &result.resources[1].object else {
        panic!("not a Service: {:?}", result.resources[1].object);
    };
    // The default namespace is set on the object itself, not only on its key.
    assert_eq!(service.metadata.namespace.as_deref(), Some("default"));
    let spec = service.spec.as_ref().unwrap();
    let ports = spec.ports.as_ref().unwrap();
    assert_eq!(
        (ports[0].name.as_deref(), ports[0].port),
        (Some("http"), 9080)
    );
    assert_eq!(spec.selector.as_ref().unwrap()["app"], "reviews");

    let LoadedObject::EndpointSlice(slice) = &result.resources[2].object else {
        panic!("not an EndpointSlice: {:?}", result.resources[2].object);
    };
    assert_eq!(slice.address_type, "IPv4");
    let endpoints = slice.endpoints.as_ref().unwrap();
    assert_eq!(endpoints[0].addresses, vec!["10.0.0.7"]);
    assert_eq!(endpoints[0].conditions.as_ref().unwrap().ready, Some(true));

    let LoadedObject::Pod(pod) = &result.resources[3].object else {
        panic!("not a Pod: {:?}", result.resources[3].object);
    };
    let status = pod.status.as_ref().unwrap();
    assert_eq!(status.pod_ip.as_deref(), Some("10.0.0.7"));
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.service_account_name.as_deref(), Some("reviews"));
}

#[test]
fn a_namespace_has_no_namespace_and_the_others_take_the_default() {
    let options = LoadOptions {
        default_namespace: "prod".to_string(),
        ..LoadOptions::default()
    };
    let namespace = NAMESPACE.replace("name: shop", "name: shop\n  namespace: other");
    let pod = POD.replace("  namespace: shop\n", "");
    let text = format!("{namespace}---\n{pod}");
    let result = load_str(&text, Path::new("x.yaml"), &options);
    assert_eq!(
        resources(&result),
        vec![
            "x.yaml:1 v1 Namespace shop",
            "x.yaml:8 v1 Pod prod/reviews-v1"
        ]
    );
    assert_eq!(result.resources[0].object.metadata().namespace, None);
    assert_eq!(result.resources[0].object.kind(), LoadedKind::Namespace);
    assert!(!LoadedKind::Namespace.is_namespaced());
    assert!(LoadedKind::Pod.is_namespaced());
}

#[test]
fn a_malformed_service_names_the_field() {
    let text = SERVICE.replace("port: 9080", "port: \"abc\"");
    let result = load(&format!("{NAMESPACE}---\n{text}"), "svc.yaml");
    assert_eq!(resources(&result), vec!["svc.yaml:1 v1 Namespace shop"]);
    assert_eq!(
        errors(&result),
        vec![
            "svc.yaml:7: Service default/reviews: spec.ports[0].port: invalid type: string \
             \"abc\", expected i32"
        ]
    );
    let error = &result.errors[0];
    assert_eq!(error.origin.line, 7);
    assert_eq!(error.kind.as_deref(), Some("Service"));
    assert_eq!(error.namespace.as_deref(), Some("default"));
    assert_eq!(error.name.as_deref(), Some("reviews"));
}

#[test]
fn kubernetes_errors_name_the_object_and_its_scope() {
    let text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: [a]}\n---\n\
                apiVersion: v1\nkind: Service\nmetadata: {namespace: shop}\nspec: {}\n---\n\
                apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\n\
                metadata: {name: r}\naddressType: IPv4\nendpoints: []\n---\n\
                apiVersion: v2\nkind: Pod\nmetadata: {name: p}\n---\n\
                apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: e}\n\
                addressType: IPv4\nendpoints: [{addresses: 10.0.0.7}]\n";
    let result = load(text, "bad.yaml");
    assert_eq!(
        errors(&result),
        vec![
            "bad.yaml:1: Namespace shop: metadata.labels: invalid type: sequence, expected a map",
            "bad.yaml:5: Service: metadata.name is missing",
            "bad.yaml:10: EndpointSlice default/r: EndpointSlice is not served as \
             \"discovery.k8s.io/v1beta1\"; use discovery.k8s.io/v1",
            "bad.yaml:16: Pod default/p: Pod is not served as \"v2\"; use v1",
            "bad.yaml:20: EndpointSlice default/e: endpoints[0].addresses: invalid type: string \
             \"10.0.0.7\", expected a sequence",
        ]
    );
    assert_eq!(result.errors[0].namespace, None);
    assert_eq!(result.resources, vec![]);
}

#[test]
fn kubernetes_duplicates_are_errors_and_kinds_do_not_collide() {
    let virtual_service = "apiVersion: networking.istio.io/v1\nkind: VirtualService\n\
                           metadata: {name: reviews}\nspec: {hosts: [reviews]}\n";
    let mut loader = Loader::new(LoadOptions::default());
    loader.add_str(&format!("{NAMESPACE}---\n{SERVICE}"), Path::new("a.yaml"));
    let explicit = SERVICE.replace("name: reviews", "name: reviews\n  namespace: default");
    let text = format!("{virtual_service}---\n{explicit}---\n{NAMESPACE}");
    loader.add_str(&text, Path::new("b.yaml"));
    let result = loader.finish();
    assert_eq!(
        resources(&result),
        vec![
            "a.yaml:1 v1 Namespace shop",
            "a.yaml:7 v1 Service default/reviews",
            "b.yaml:1 networking.istio.io/v1 VirtualService default/reviews",
        ]
    );
    assert_eq!(
        errors(&result),
        vec![
            "b.yaml:6: Service default/reviews: duplicate resource, first defined at a.yaml:7",
            "b.yaml:17: Namespace shop: duplicate resource, first defined at a.yaml:1",
        ]
    );
    assert_eq!(result.errors[1].namespace, None);
    let first = |e: &LoadError| e.first_defined.as_ref().map(ToString::to_string);
    assert_eq!(first(&result.errors[0]).as_deref(), Some("a.yaml:7"));
    assert_eq!(first(&result.errors[1]).as_deref(), Some("a.yaml:1"));
}

#[test]
fn unknown_fields_of_kubernetes_objects_are_kept() {
    let text = SERVICE.replace("  ports:", "  portz: [1]\n  ports:");
    let result = load(&text, "svc.yaml");
    let unknown: Vec<_> = result.resources[0]
        .unknown_fields
        .iter()
        .map(|f| (f.path.to_string(), f.value.clone()))
        .collect();
    assert_eq!(
        unknown,
        vec![("spec.portz".to_string(), serde_json::json!([1]))]
    );
    let LoadedObject::Service(service) = &result.resources[0].object else {
        panic!("not a Service");
    };
    assert_eq!(
        service
            .spec
            .as_ref()
            .map(|s| s.ports.as_ref().map(Vec::len)),
        Some(Some(1))
    );
}

#[test]
fn lists_of_kubernetes_objects_stand_for_their_items() {
    let text = "apiVersion: v1\nkind: List\nitems:\n\
                - {apiVersion: v1, kind: Service, metadata: {name: a}, spec: {}}\n\
                - {apiVersion: v1, kind: Namespace, metadata: {name: b}}\n";
    let result = load(text, "list.yaml");
    assert_eq!(
        resources(&result),
        vec![
            "list.yaml:1 (items[0]) v1 Service default/a",
            "list.yaml:1 (items[1]) v1 Namespace b",
        ]
    );
}

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: web-cert\n\
                      type: kubernetes.io/tls\ndata:\n  tls.crt: Y2VydA==\n  tls.key: a2V5\n\
                      stringData:\n  ca.crt: ca\n";

#[test]
fn a_secret_loads_with_its_data_decoded() {
    let result = load(SECRET, "cert.yaml");
    assert_eq!(errors(&result), Vec::<String>::new());
    assert_eq!(
        resources(&result),
        vec!["cert.yaml:1 v1 Secret default/web-cert"]
    );
    let LoadedObject::Secret(secret) = &result.resources[0].object else {
        panic!("not a Secret: {:?}", result.resources[0].object);
    };
    assert_eq!(result.resources[0].object.kind(), LoadedKind::Secret);
    assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
    let data = secret.data.as_ref().unwrap();
    assert_eq!(data["tls.crt"].0, b"cert");
    assert_eq!(data["tls.key"].0, b"key");
    assert_eq!(secret.string_data.as_ref().unwrap()["ca.crt"], "ca");
}

#[test]
fn a_malformed_secret_names_the_field_and_the_secret() {
    let text = SECRET.replace("a2V5", "not*base64");
    let result = load(&text, "cert.yaml");
    assert_eq!(resources(&result), Vec::<String>::new());
    assert_eq!(
        errors(&result),
        vec!["cert.yaml:1: Secret default/web-cert: data.tls.key: Invalid symbol 42, offset 3."]
    );
    let text = SECRET.replace("  tls.key: a2V5\n", "  tls.key: [1, 2]\n");
    assert_eq!(
        errors(&load(&text, "cert.yaml")),
        vec![
            "cert.yaml:1: Secret default/web-cert: data.tls.key: invalid type: sequence, \
             expected a base64-encoded string"
        ]
    );
    let text = SECRET.replace("apiVersion: v1", "apiVersion: v2");
    assert_eq!(
        errors(&load(&text, "cert.yaml")),
        vec!["cert.yaml:1: Secret default/web-cert: Secret is not served as \"v2\"; use v1"]
    );
}
