use std::collections::BTreeMap;

use mesh_common::load::Origin;

use super::*;
use crate::xds::ProxyStatus;

fn error(file: &str, line: usize) -> LoadError {
    LoadError {
        origin: Origin {
            file: file.into(),
            document: 0,
            line,
            item: None,
        },
        kind: None,
        namespace: None,
        name: None,
        reason: "bad".to_string(),
        first_defined: None,
    }
}

/// The line of `text` that starts with `prefix`.
fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{text}"))
}

#[test]
fn renders_the_observed_state_and_what_was_recorded() {
    let metrics = Metrics::new();
    metrics.translated(Duration::from_micros(300));
    metrics.push_failed(ResourceType::Listener);
    metrics.config_changed("scoped");
    metrics.config_changed("scoped");
    metrics.config_changed("all");
    let status = StatusSnapshot {
        proxies: vec![ProxyStatus {
            node_id: "a".to_string(),
            protocol: "delta",
            types: BTreeMap::new(),
        }],
        pushes_total: [("Cluster", 3)].into(),
        nacks_total: [("Cluster", 1)].into(),
        reached_total: [("all", 2), ("endpoints", 5), ("skipped", 9)].into(),
    };
    let observed = Observed {
        status: &status,
        load_errors: &[error("a.yaml", 1), error("a.yaml", 9), error("b.yaml", 2)],
        snapshot_version: 7,
    };
    let text = metrics.render(&observed);
    let cluster = ResourceType::Cluster.type_url();
    let listener = ResourceType::Listener.type_url();
    assert_eq!(
        line(
            &text,
            "mesh_controlplane_xds_connected_proxies{type=\"delta\"}"
        ),
        "mesh_controlplane_xds_connected_proxies{type=\"delta\"} 1"
    );
    assert_eq!(
        line(
            &text,
            "mesh_controlplane_xds_connected_proxies{type=\"sotw\"}"
        ),
        "mesh_controlplane_xds_connected_proxies{type=\"sotw\"} 0"
    );
    assert_eq!(
        line(&text, &format!("{PUSHES}{{type_url=\"{cluster}\"}}")),
        format!("{PUSHES}{{type_url=\"{cluster}\"}} 3")
    );
    assert_eq!(
        line(&text, &format!("{NACKS}{{type_url=\"{cluster}\"}}")),
        format!("{NACKS}{{type_url=\"{cluster}\"}} 1")
    );
    assert_eq!(
        line(&text, &format!("{PUSH_ERRORS}{{type_url=\"{listener}\"}}")),
        format!("{PUSH_ERRORS}{{type_url=\"{listener}\"}} 1")
    );
    for (scope, count) in [("all", 2), ("endpoints", 5), ("skipped", 9)] {
        assert_eq!(
            line(&text, &format!("{PROXY_PUSHES}{{scope=\"{scope}\"}}")),
            format!("{PROXY_PUSHES}{{scope=\"{scope}\"}} {count}")
        );
    }
    for (scope, count) in [("all", 1), ("scoped", 2), ("none", 0)] {
        assert_eq!(
            line(&text, &format!("{CONFIG_CHANGES}{{scope=\"{scope}\"}}")),
            format!("{CONFIG_CHANGES}{{scope=\"{scope}\"}} {count}")
        );
    }
    assert_eq!(
        line(&text, "mesh_controlplane_config_errors "),
        "mesh_controlplane_config_errors 2"
    );
    assert_eq!(
        line(&text, "mesh_controlplane_snapshot_version "),
        "mesh_controlplane_snapshot_version 7"
    );
    assert_eq!(
        line(
            &text,
            "mesh_controlplane_translation_duration_seconds_bucket{le=\"0.0005\"}"
        ),
        "mesh_controlplane_translation_duration_seconds_bucket{le=\"0.0005\"} 1"
    );
    assert_eq!(
        line(
            &text,
            "mesh_controlplane_translation_duration_seconds_count"
        ),
        "mesh_controlplane_translation_duration_seconds_count 1"
    );
}
