//! The CustomResourceDefinitions that serve these types, as `meshctl install` and the Helm
//! chart apply them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use super::{
    AuthorizationPolicy, DestinationRule, Gateway, Kind, PeerAuthentication, RequestAuthentication,
    ServiceEntry, Sidecar, Telemetry, VirtualService, WorkloadEntry,
};

/// One CRD per kind, each serving every API version Istio serves for it, with one schema.
/// The first version (`v1`) is the storage version; the schemas are identical, so no conversion
/// webhook is needed.
pub fn crds() -> Vec<CustomResourceDefinition> {
    Kind::ALL.iter().map(|&kind| crd(kind)).collect()
}

fn crd(kind: Kind) -> CustomResourceDefinition {
    let mut crd = match kind {
        Kind::VirtualService => VirtualService::crd(),
        Kind::DestinationRule => DestinationRule::crd(),
        Kind::Gateway => Gateway::crd(),
        Kind::ServiceEntry => ServiceEntry::crd(),
        Kind::WorkloadEntry => WorkloadEntry::crd(),
        Kind::Sidecar => Sidecar::crd(),
        Kind::AuthorizationPolicy => AuthorizationPolicy::crd(),
        Kind::PeerAuthentication => PeerAuthentication::crd(),
        Kind::RequestAuthentication => RequestAuthentication::crd(),
        Kind::Telemetry => Telemetry::crd(),
    };
    let versions = &mut crd.spec.versions;
    if let Some(preferred) = versions.first().cloned() {
        for name in &kind.versions()[1..] {
            let mut other = preferred.clone();
            other.name = (*name).to_string();
            other.storage = false;
            versions.push(other);
        }
    }
    crd.metadata.labels = Some(
        [(
            "app.kubernetes.io/part-of".to_string(),
            "mesh.rs".to_string(),
        )]
        .into_iter()
        .collect(),
    );
    crd
}
