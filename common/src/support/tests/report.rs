//! What `report` says of a resource: the outermost field the control plane does not honour,
//! with its exact path, kind by kind.

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

/// A VirtualService table in which the control plane honours exactly `paths`: what is
/// implemented today is set back to planned first, so that these tests keep their meaning as
/// the real table grows.
pub(super) fn landed(paths: &[&str]) -> Table {
    let mut entries: Vec<Entry> = fields::SECTIONS
        .iter()
        .find(|(kind, _)| *kind == Kind::VirtualService)
        .unwrap()
        .1
        .to_vec();
    for entry in &mut entries {
        if entry.support == Some(Support::Implemented) {
            entry.support = Some(Support::Planned);
        }
    }
    for path in paths {
        let entry = entries.iter_mut().find(|e| e.path == *path).unwrap();
        entry.support = Some(Support::Implemented);
    }
    Table::new(&[(Kind::VirtualService, &entries)])
}

fn virtual_service(spec: Value) -> Resource {
    let document = json!({
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "reviews", "namespace": "default"},
        "spec": spec,
    });
    let decoded = decode(&document).unwrap();
    assert_eq!(decoded.unknown_fields, vec![]);
    decoded.resource
}

/// Routing for reviews as Istio users write it: a header match to v2 with a mirror, weighted
/// v1/v3 with a fault, retries and CORS.
fn reviews() -> Resource {
    virtual_service(json!({
        "hosts": ["reviews"],
        "http": [
            {
                "match": [{"headers": {"end-user": {"exact": "jason"}}, "ignoreUriCase": false}],
                "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
                "mirror": {"host": "reviews", "subset": "v3"},
                "mirrorPercent": 10,
            },
            {
                "route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
                    {"destination": {"host": "reviews", "subset": "v3"}, "weight": 10},
                ],
                "fault": {"delay": {
                    "fixedDelay": "7s",
                    "exponentialDelay": "1s",
                    "percentage": {"value": 10.0},
                }},
                "retries": {"attempts": 3, "perTryTimeout": "2s"},
                "corsPolicy": {"allowOrigin": ["*"], "allowMethods": ["GET"]},
                "timeout": "10s",
            },
        ],
    }))
}

pub(super) fn warnings(findings: &[Finding]) -> Vec<(String, String)> {
    for finding in findings {
        assert_eq!(finding.severity, crate::validate::Severity::Warning);
    }
    findings
        .iter()
        .map(|f| (f.path.to_string(), f.message.clone()))
        .collect()
}

const PLANNED: &str = "not implemented by mesh.rs yet (planned); it has no effect";

pub(super) fn owned(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect()
}

#[test]
fn today_the_features_translation_does_not_honour_are_reported() {
    assert_eq!(
        warnings(&report(&reviews())),
        owned(&[(
            "spec.http[1].fault.delay.exponentialDelay",
            "not supported by mesh.rs; it has no effect (Istio does not implement it either)"
        )])
    );
}

#[test]
fn reports_the_outermost_field_not_honoured_with_its_exact_path() {
    let table = landed(&[
        "spec.hosts",
        "spec.http",
        "spec.http.match",
        "spec.http.match.headers",
        "spec.http.route",
        "spec.http.route.weight",
        "spec.http.fault",
        "spec.http.timeout",
    ]);
    assert_eq!(
        warnings(&table.report(&reviews())),
        owned(&[
            ("spec.http[0].match[0].ignoreUriCase", PLANNED),
            ("spec.http[0].mirror", PLANNED),
            (
                "spec.http[0].mirrorPercent",
                "not implemented by mesh.rs yet (planned); it has no effect \
                 (deprecated by Istio: use mirrorPercentage)"
            ),
            // `allowOrigin` inside it is not reported: the whole policy has no effect.
            ("spec.http[1].corsPolicy", PLANNED),
            (
                "spec.http[1].fault.delay.exponentialDelay",
                "not supported by mesh.rs; it has no effect (Istio does not implement it either)"
            ),
            ("spec.http[1].retries", PLANNED),
        ])
    );
}

#[test]
fn empty_and_default_fields_are_not_reported() {
    let table = landed(&["spec.http"]);
    let resource = virtual_service(json!({
        "hosts": [],
        "gateways": [],
        "http": [{
            "name": "",
            "fault": {},
            "headers": {"request": {}, "response": {"set": {}}},
            "mirrors": [],
            "route": [{"destination": {"host": "reviews"}}],
        }],
    }));
    assert_eq!(
        warnings(&table.report(&resource)),
        owned(&[("spec.http[0].route", PLANNED)])
    );
    assert_eq!(report(&virtual_service(json!({}))), vec![]);
}

#[test]
fn reports_every_kind_by_its_own_table() {
    let document = json!({
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": {"name": "deny-all", "namespace": "default"},
        "spec": {
            "targetRef": {"kind": "Gateway", "name": "ingress"},
            "rules": [{"from": [{"source": {}}]}],
        },
    });
    let resource = decode(&document).unwrap().resource;
    assert_eq!(
        warnings(&report(&resource)),
        owned(&[
            ("spec.rules", PLANNED),
            (
                "spec.targetRef",
                "not supported by mesh.rs; it has no effect (attaches to Gateway API resources, \
                 which mesh.rs does not read: use selector)"
            ),
        ])
    );
}

#[test]
fn support_reads_as_operators_say_it() {
    assert_eq!(Support::Implemented.to_string(), "implemented");
    assert_eq!(Support::Planned.to_string(), "planned");
    assert_eq!(Support::NotPlanned.to_string(), "not planned");
}
