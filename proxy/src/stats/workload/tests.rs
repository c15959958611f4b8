use pretty_assertions::assert_eq;

use super::*;
use crate::stats::fixtures::{metadata, text};

#[test]
fn labels_and_metadata_fill_every_field() {
    let workload = Workload::from_metadata(&metadata(
        &[
            ("WORKLOAD_NAME", "reviews-v2"),
            ("NAMESPACE", "bookinfo"),
            ("CLUSTER_ID", "east"),
        ],
        &[
            ("app", "reviews"),
            ("version", "v2"),
            ("service.istio.io/canonical-name", "reviews-svc"),
            ("service.istio.io/canonical-revision", "2.0"),
        ],
    ));
    assert_eq!(
        workload,
        Workload {
            workload: "reviews-v2".to_owned(),
            namespace: "bookinfo".to_owned(),
            principal: "unknown".to_owned(),
            app: "reviews".to_owned(),
            version: "v2".to_owned(),
            canonical_service: "reviews-svc".to_owned(),
            canonical_revision: "2.0".to_owned(),
            cluster: "east".to_owned(),
        }
    );
}

#[test]
fn canonical_names_fall_back_as_istio_does() {
    let from_app = Workload::from_metadata(&metadata(
        &[("WORKLOAD_NAME", "reviews-v1"), ("NAMESPACE", "default")],
        &[("app", "reviews"), ("version", "v1")],
    ));
    assert_eq!(
        (
            from_app.canonical_service.as_str(),
            from_app.canonical_revision.as_str(),
            from_app.cluster.as_str()
        ),
        ("reviews", "v1", "Kubernetes")
    );
    let from_workload = Workload::from_metadata(&metadata(&[("WORKLOAD_NAME", "ratings-v1")], &[]));
    assert_eq!(
        (
            from_workload.canonical_service.as_str(),
            from_workload.canonical_revision.as_str(),
            from_workload.app.as_str(),
            from_workload.version.as_str(),
            from_workload.namespace.as_str(),
        ),
        ("ratings-v1", "latest", "unknown", "unknown", "unknown")
    );
    let from_k8s_labels = Workload::from_metadata(&metadata(
        &[],
        &[
            ("app.kubernetes.io/name", "details"),
            ("app.kubernetes.io/version", "1.2"),
        ],
    ));
    assert_eq!(
        (
            from_k8s_labels.app.as_str(),
            from_k8s_labels.canonical_service.as_str(),
            from_k8s_labels.canonical_revision.as_str(),
            from_k8s_labels.workload.as_str(),
        ),
        ("details", "details", "1.2", "unknown")
    );
}

#[test]
fn empty_or_mistyped_values_count_as_absent() {
    let mut odd = metadata(&[("WORKLOAD_NAME", ""), ("NAMESPACE", "default")], &[]);
    odd.fields
        .insert(node_metadata::LABELS.to_owned(), text("app=reviews"));
    let workload = Workload::from_metadata(&odd);
    assert_eq!(
        (
            workload.workload.as_str(),
            workload.app.as_str(),
            workload.canonical_service.as_str()
        ),
        ("unknown", "unknown", "unknown")
    );
    assert_eq!(
        Workload::from_metadata(&Struct::default()).namespace,
        "unknown"
    );
}
