use envoy_types::pb::google::protobuf::ListValue;
use pretty_assertions::assert_eq;

use super::*;
use crate::stats::fixtures::metadata;

fn service(host: &str, name: &str, namespace: &str) -> DestinationService {
    DestinationService {
        host: host.to_owned(),
        name: name.to_owned(),
        namespace: namespace.to_owned(),
    }
}

fn with_metadata(name: &str, services: Vec<Struct>) -> Cluster {
    let services = Value {
        kind: Some(Kind::ListValue(ListValue {
            values: services
                .into_iter()
                .map(|s| Value {
                    kind: Some(Kind::StructValue(s)),
                })
                .collect(),
        })),
    };
    let istio = Struct {
        fields: [("services".to_owned(), services)].into_iter().collect(),
    };
    Cluster {
        name: name.to_owned(),
        metadata: Some(Metadata {
            filter_metadata: [(ISTIO.to_owned(), istio)].into_iter().collect(),
            ..Metadata::default()
        }),
        ..Cluster::default()
    }
}

#[test]
fn istio_metadata_names_the_service() {
    let cluster = with_metadata(
        "inbound|9080||",
        vec![
            metadata(
                &[
                    ("host", "reviews.bookinfo.svc.cluster.local"),
                    ("name", "reviews"),
                    ("namespace", "bookinfo"),
                ],
                &[],
            ),
            metadata(&[("host", "other.svc")], &[]),
        ],
    );
    assert_eq!(
        DestinationService::of_cluster(&cluster),
        service("reviews.bookinfo.svc.cluster.local", "reviews", "bookinfo")
    );
    // A host alone is enough: name and namespace come from its labels.
    let host_only = with_metadata(
        "x",
        vec![metadata(&[("host", "ratings.prod.svc.cluster.local")], &[])],
    );
    assert_eq!(
        DestinationService::of_cluster(&host_only),
        service("ratings.prod.svc.cluster.local", "ratings", "prod")
    );
}

#[test]
fn istio_cluster_names_are_the_fallback() {
    let named = |name: &str| {
        DestinationService::of_cluster(&Cluster {
            name: name.to_owned(),
            ..Cluster::default()
        })
    };
    assert_eq!(
        named("outbound|9080|v1|reviews.default.svc.cluster.local"),
        service("reviews.default.svc.cluster.local", "reviews", "default")
    );
    assert_eq!(
        named("outbound|443||httpbin"),
        service("httpbin", "httpbin", "unknown")
    );
    // Metadata without services falls back to the name too.
    assert_eq!(
        DestinationService::of_cluster(&with_metadata(
            "outbound|80||details.default.svc.cluster.local",
            vec![]
        )),
        service("details.default.svc.cluster.local", "details", "default")
    );
    for unknown in [
        "inbound|9080||",
        "backend",
        "outbound|80||",
        "outbound|80|a|b|c",
    ] {
        assert_eq!(named(unknown), DestinationService::unknown(), "{unknown}");
    }
}
