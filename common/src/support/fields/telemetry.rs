//! `Telemetry`: tracing is translated into every connection manager's `tracing`; metrics and
//! access logs are not read yet.

use crate::support::Entry;

pub(super) const FIELDS: &[Entry] = fields! {
    "spec" {
        selector                implemented;
        targetRef               not_planned
            "attaches to Gateway API resources and waypoints, which mesh.rs does not serve: use selector";
        targetRefs              not_planned
            "attaches to Gateway API resources and waypoints, which mesh.rs does not serve: use selector";
        tracing                 implemented;
        metrics                 planned
            "proxies always report Istio's standard metrics, to Prometheus";
        accessLogging           planned;
    }
    "spec.selector" { matchLabels inherit; }
    "spec.targetRef" { group inherit; kind inherit; name inherit; namespace inherit; }
    "spec.targetRefs" { group inherit; kind inherit; name inherit; namespace inherit; }
    "spec.tracing" {
        match                   implemented;
        providers               implemented
            "the first name is used; it must be an opentelemetry provider exporting over gRPC";
        randomSamplingPercentage implemented;
        disableSpanReporting    implemented;
        customTags              implemented
            "literal and header tags; environment tags are left out, and reported by the control \
             plane: mesh-proxy has none";
        useRequestIdForTraceSampling implemented
            "true only, Envoy's default: mesh-proxy samples by the request id; false is reported \
             by the control plane";
        enableIstioTags         implemented;
    }
    "spec.tracing.match" { mode inherit; }
    "spec.tracing.providers" { name inherit; }
    "spec.metrics" { providers inherit; overrides inherit; reportingInterval inherit; }
    "spec.metrics.providers" { name inherit; }
    "spec.metrics.overrides" { match inherit; disabled inherit; tagOverrides inherit; }
    "spec.metrics.overrides.match" { metric inherit; customMetric inherit; mode inherit; }
    "spec.accessLogging" { match inherit; providers inherit; disabled inherit; filter inherit; }
    "spec.accessLogging.match" { mode inherit; }
    "spec.accessLogging.providers" { name inherit; }
    "spec.accessLogging.filter" { expression inherit; }
};
