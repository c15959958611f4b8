//! `platform/kube/bookinfo.yaml`: every object typed exactly, and every Deployment's command
//! line read by the binary's own parser.

use std::{collections::BTreeMap, path::PathBuf};

use bookinfo::config::{Cli, Config, ReviewsVersion, ServiceKind};
use clap::{CommandFactory, FromArgMatches};
use k8s_openapi::{
    api::{
        apps::v1::Deployment,
        core::v1::{Service, ServiceAccount},
    },
    apimachinery::pkg::util::intstr::IntOrString,
};
use mesh_common::{
    load::{self, LoadOptions, LoadedObject},
    well_known::PROXY_UID,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use crate::{documents, sample_dir};

const SERVICES: &[&str] = &["details", "ratings", "reviews", "productpage"];

/// Each Deployment: its name, `app` and `version` labels, and the arguments of its container.
const DEPLOYMENTS: &[(&str, &str, &str, &[&str])] = &[
    ("details-v1", "details", "v1", &["details"]),
    ("ratings-v1", "ratings", "v1", &["ratings"]),
    (
        "reviews-v1",
        "reviews",
        "v1",
        &["reviews", "--service-version", "v1"],
    ),
    (
        "reviews-v2",
        "reviews",
        "v2",
        &["reviews", "--service-version", "v2"],
    ),
    (
        "reviews-v3",
        "reviews",
        "v3",
        &["reviews", "--service-version", "v3"],
    ),
    ("productpage-v1", "productpage", "v1", &["productpage"]),
];

fn manifest() -> PathBuf {
    sample_dir().join("platform/kube/bookinfo.yaml")
}

/// Every document of a kind, typed; a document with a field its type lacks (a typo, a field in
/// the wrong place) does not serialize back to itself, and fails here.
fn objects<T: DeserializeOwned + Serialize>(kind: &str) -> Vec<T> {
    let documents = documents(&manifest());
    let of_kind = documents.into_iter().filter(|d| d["kind"] == kind);
    of_kind
        .map(|document| {
            let typed: T = serde_json::from_value(document.clone())
                .unwrap_or_else(|e| panic!("{kind} {}: {e}", document["metadata"]["name"]));
            assert_eq!(serde_json::to_value(&typed).unwrap(), document);
            typed
        })
        .collect()
}

/// The configuration `bookinfo <args>` runs with, whatever the environment of the test: the pod
/// sets none of the variables read (Kubernetes' own `*_SERVICE_PORT` ones hold 9080 anyway).
fn parse(args: &[&str]) -> Result<Config, String> {
    let command = Cli::command().mut_args(|arg| arg.env(None::<&str>));
    let argv = std::iter::once("bookinfo").chain(args.iter().copied());
    let matches = command
        .try_get_matches_from(argv)
        .map_err(|e| e.to_string())?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    cli.into_config(None).map_err(|e| e.to_string())
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let pairs = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    pairs.collect()
}

#[test]
fn the_file_holds_a_service_account_and_service_per_service_and_a_deployment_per_version() {
    let found: Vec<(String, String)> = documents(&manifest())
        .iter()
        .map(|d| {
            let text = |v: &Value| v.as_str().unwrap().to_string();
            (text(&d["kind"]), text(&d["metadata"]["name"]))
        })
        .collect();
    let mut expected = Vec::new();
    for service in SERVICES {
        expected.push(("Service".to_string(), service.to_string()));
        expected.push(("ServiceAccount".to_string(), format!("bookinfo-{service}")));
        let deployments = DEPLOYMENTS.iter().filter(|(_, app, _, _)| app == service);
        expected.extend(deployments.map(|(name, ..)| ("Deployment".to_string(), name.to_string())));
    }
    assert_eq!(found, expected);
}

#[test]
fn services_expose_port_9080_named_http() {
    let services: Vec<Service> = objects("Service");
    assert_eq!(services.len(), SERVICES.len());
    for (service, name) in services.iter().zip(SERVICES) {
        let meta = &service.metadata;
        assert_eq!(meta.name.as_deref(), Some(*name));
        assert_eq!(
            meta.namespace, None,
            "kubectl apply -n chooses the namespace"
        );
        let expected = labels(&[("app", name), ("service", name)]);
        assert_eq!(meta.labels.as_ref(), Some(&expected), "{name}");
        let spec = service.spec.as_ref().unwrap();
        assert_eq!(spec.type_, None, "{name}: a ClusterIP Service");
        assert_eq!(spec.selector, Some(labels(&[("app", name)])), "{name}");
        let ports = spec.ports.as_deref().unwrap();
        assert_eq!(ports.len(), 1, "{name}");
        assert_eq!(ports[0].name.as_deref(), Some("http"), "{name}");
        assert_eq!(ports[0].port, 9080, "{name}");
        assert_eq!(ports[0].target_port, Some(IntOrString::Int(9080)), "{name}");
    }
}

#[test]
fn service_accounts_are_named_after_their_service() {
    let accounts: Vec<ServiceAccount> = objects("ServiceAccount");
    let found: Vec<_> = accounts.iter().map(|a| a.metadata.name.clone()).collect();
    let expected: Vec<_> = SERVICES
        .iter()
        .map(|s| Some(format!("bookinfo-{s}")))
        .collect();
    assert_eq!(found, expected);
    for (account, service) in accounts.iter().zip(SERVICES) {
        assert_eq!(
            account.metadata.labels,
            Some(labels(&[("account", service)]))
        );
    }
}

#[test]
fn deployments_label_their_pods_and_run_the_image() {
    let deployments: Vec<Deployment> = objects("Deployment");
    assert_eq!(deployments.len(), DEPLOYMENTS.len());
    for (deployment, (name, app, version, _)) in deployments.iter().zip(DEPLOYMENTS) {
        assert_eq!(deployment.metadata.name.as_deref(), Some(*name));
        let expected = labels(&[("app", app), ("version", version)]);
        assert_eq!(
            deployment.metadata.labels.as_ref(),
            Some(&expected),
            "{name}"
        );
        let spec = &deployment.spec;
        assert_eq!(spec.replicas, Some(1), "{name}");
        assert_eq!(
            spec.selector.match_labels.as_ref(),
            Some(&expected),
            "{name}"
        );
        let template_meta = spec.template.metadata.as_ref().unwrap();
        assert_eq!(template_meta.labels.as_ref(), Some(&expected), "{name}");

        let pod = spec.template.spec.as_ref().unwrap();
        let account = format!("bookinfo-{app}");
        assert_eq!(pod.service_account_name.as_deref(), Some(&*account));
        let security = pod.security_context.as_ref().unwrap();
        assert_eq!(security.run_as_non_root, Some(true), "{name}");
        let uid = security.run_as_user.unwrap();
        assert_ne!(uid, 0, "{name}");
        // The proxy's own traffic is let through uncaptured: the app must not share its uid.
        assert_ne!(uid, i64::from(PROXY_UID), "{name}");

        assert_eq!(pod.containers.len(), 1, "{name}");
        let container = &pod.containers[0];
        assert_eq!(container.name, *app);
        assert_eq!(
            container.image.as_deref(),
            Some("ghcr.io/mesh-rs/bookinfo:latest")
        );
        assert_eq!(container.image_pull_policy.as_deref(), Some("IfNotPresent"));
        let ports = container.ports.as_deref().unwrap();
        assert_eq!(ports.len(), 1, "{name}");
        assert_eq!(
            (ports[0].name.as_deref(), ports[0].container_port),
            (Some("http"), 9080)
        );
        let probe = container.readiness_probe.as_ref().unwrap();
        let get = probe.http_get.as_ref().unwrap();
        assert_eq!(
            (get.path.as_deref(), &get.port),
            (Some("/health"), &IntOrString::Int(9080)),
            "{name}"
        );
        let requests = container.resources.as_ref().unwrap().requests.as_ref();
        let requests: Vec<_> = requests
            .unwrap()
            .iter()
            .map(|(k, v)| (&**k, &*v.0))
            .collect();
        assert_eq!(requests, [("cpu", "10m"), ("memory", "16Mi")], "{name}");
    }
}

/// The arguments are the binary's: parsed by its own command line, they run the service and
/// version the pod's labels name, on the port the pod declares.
#[test]
fn deployment_arguments_run_the_labelled_service_and_version() {
    let deployments: Vec<Deployment> = objects("Deployment");
    for (deployment, (name, app, version, args)) in deployments.iter().zip(DEPLOYMENTS) {
        let container = &deployment.spec.template.spec.as_ref().unwrap().containers[0];
        let written = container.args.as_deref().unwrap();
        assert_eq!(written, *args, "{name}");
        assert_eq!(container.env, None, "{name}: configured by arguments only");

        let config = parse(args).unwrap_or_else(|e| panic!("{name}: {e}"));
        let service = match *app {
            "details" => ServiceKind::Details,
            "ratings" => ServiceKind::Ratings,
            "reviews" => ServiceKind::Reviews,
            "productpage" => ServiceKind::Productpage,
            other => panic!("unknown app {other}"),
        };
        assert_eq!(config.service, service, "{name}");
        let reviews_version = match *version {
            "v1" => ReviewsVersion::V1,
            "v2" => ReviewsVersion::V2,
            "v3" => ReviewsVersion::V3,
            other => panic!("unknown version {other}"),
        };
        assert_eq!(config.reviews_version, reviews_version, "{name}");
        assert_eq!(config.listen.port(), 9080, "{name}");
        // With no variables set, the upstreams are the Services of this file.
        let upstreams = [
            config.upstreams.details.as_str(),
            config.upstreams.reviews.as_str(),
            config.upstreams.ratings.as_str(),
        ];
        assert_eq!(upstreams, ["details:9080", "reviews:9080", "ratings:9080"]);
    }
}

/// The mesh's loader reads the Services (what the control plane's file store and `meshctl`
/// see of this file) with no field left over; the kinds it does not read are reported as such,
/// never misread.
#[test]
fn the_mesh_loader_reads_the_services_whole() {
    let result = load::load_path(&manifest(), &LoadOptions::default());
    let services: Vec<_> = result
        .resources
        .iter()
        .filter_map(|loaded| match &loaded.object {
            LoadedObject::Service(service) => Some(service.metadata.name.as_deref().unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(services, SERVICES);
    for loaded in &result.resources {
        assert_eq!(loaded.unknown_fields, [], "{}", loaded.object.key());
        assert_eq!(loaded.object.namespace(), "default");
    }
    for error in &result.errors {
        let kind = error.kind.as_deref();
        assert!(
            matches!(kind, Some("Deployment" | "ServiceAccount")),
            "{error}"
        );
        assert!(error.reason.starts_with("unknown kind"), "{error}");
    }
}
