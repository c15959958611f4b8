//! Telemetry: what it applies to, and its tracing entries.

use super::check;

#[test]
fn valid_telemetry() {
    check(&[
        (
            r#"Telemetry istio-system/mesh-default
            tracing:
            - providers: [{name: otel}]
              randomSamplingPercentage: 10.5
              disableSpanReporting: false
              useRequestIdForTraceSampling: true
              enableIstioTags: true
              customTags:
                team: {literal: {value: books}}
                user: {header: {name: x-user, defaultValue: anonymous}}
                host: {environment: {name: HOSTNAME}}
            "#,
            &[],
        ),
        (
            r#"telemetry.istio.io/v1alpha1 Telemetry bookinfo/reviews
            selector: {matchLabels: {app: reviews}}
            tracing:
            - match: {mode: SERVER}
              randomSamplingPercentage: 0
            "#,
            &[],
        ),
    ]);
}

#[test]
fn invalid_tracing() {
    check(&[
        (
            r#"Telemetry bookinfo/bad
            tracing:
            - providers: [{name: ""}, {name: otel}]
              randomSamplingPercentage: 101
              customTags:
                none: {}
                both: {literal: {value: x}, header: {name: x-y}}
                empty: {literal: {value: ""}}
                nameless: {header: {name: ""}}
                unnamed: {environment: {name: ""}}
            "#,
            &[
                "Telemetry bookinfo/bad: spec.tracing[0].providers[0].name: name an extensionProviders entry of the mesh config",
                "warning: Telemetry bookinfo/bad: spec.tracing[0].providers: only one provider is used, the first the mesh config defines, as in Istio: name one",
                "Telemetry bookinfo/bad: spec.tracing[0].randomSamplingPercentage: percentage 101 is out of range: use 0 to 100",
                "Telemetry bookinfo/bad: spec.tracing[0].customTags.both: set only one of literal, environment and header (found literal and header)",
                "Telemetry bookinfo/bad: spec.tracing[0].customTags.empty.literal.value: a literal tag needs a value",
                "Telemetry bookinfo/bad: spec.tracing[0].customTags.nameless.header.name: name the header",
                "Telemetry bookinfo/bad: spec.tracing[0].customTags.none: set one of literal, environment and header",
                "Telemetry bookinfo/bad: spec.tracing[0].customTags.unnamed.environment.name: name the environment variable",
            ],
        ),
        (
            r#"Telemetry bookinfo/two
            selector: {matchLabels: {app: reviews}}
            targetRefs: [{kind: Service, name: reviews}]
            tracing:
            - match: {mode: CLIENT}
            - match: {mode: SERVER}
            "#,
            &[
                "Telemetry bookinfo/two: spec: set only one of selector, targetRef and targetRefs (found selector and targetRefs)",
                "warning: Telemetry bookinfo/two: spec.tracing: several tracing entries: each overrides the one before for the modes it matches; prefer one entry per mode",
            ],
        ),
    ]);
}
