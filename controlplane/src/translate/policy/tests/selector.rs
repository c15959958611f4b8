//! A DestinationRule's `workloadSelector`: which sidecars it applies to, and which sidecars
//! still share their outbound configuration.

use pretty_assertions::assert_eq;

use super::*;
use crate::translate::{outbound_key, selected_label_keys, sidecar_outbound};

fn labelled(namespace: &str, labels: &[(&str, &str)]) -> Proxy {
    Proxy {
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..proxy(namespace)
    }
}

fn chosen_for(snapshot: &Snapshot, proxy: &Proxy) -> Option<String> {
    let service = snapshot.service(WEB, "shop").unwrap().clone();
    let rule = destination_rule_for(snapshot, &proxy.namespace, &proxy.labels, &service)?;
    Some(format!(
        "{}/{}",
        rule.resource.namespace(),
        rule.resource.name()
    ))
}

/// `front`'s rule for web with a selector on `role: canary`, next to one for every workload.
fn rules() -> Snapshot {
    let selected = rule(
        "front",
        "canary",
        json!({"host": WEB, "workloadSelector": {"matchLabels": {"role": "canary"}},
               "trafficPolicy": {"loadBalancer": {"simple": "RANDOM"}}}),
    );
    let everyone = rule(
        "front",
        "everyone",
        json!({"host": WEB, "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}),
    );
    snapshot(&[web(), selected, everyone])
}

#[test]
fn a_selector_picks_the_workloads_of_its_own_namespace() {
    let snapshot = rules();
    let canary = labelled("front", &[("app", "client"), ("role", "canary")]);
    let plain = labelled("front", &[("app", "client")]);
    assert_eq!(
        chosen_for(&snapshot, &canary).as_deref(),
        Some("front/canary")
    );
    assert_eq!(
        chosen_for(&snapshot, &plain).as_deref(),
        Some("front/everyone")
    );
    // A workload elsewhere with the label is not selected: selectors stay in their namespace.
    let elsewhere = labelled("back", &[("role", "canary")]);
    assert_eq!(chosen_for(&snapshot, &elsewhere), None);
    // Without labels a selector never matches.
    let service = snapshot.service(WEB, "shop").unwrap().clone();
    let rule = destination_rule_for(&snapshot, "front", &BTreeMap::new(), &service).unwrap();
    assert_eq!(rule.resource.name(), "everyone");
}

#[test]
fn a_root_namespace_selector_does_not_reach_other_namespaces() {
    let root = rule(
        DEFAULT_ROOT_NAMESPACE,
        "root-canary",
        json!({"host": WEB, "workloadSelector": {"matchLabels": {"role": "canary"}}}),
    );
    let snapshot = snapshot(&[web(), root]);
    let canary = labelled("front", &[("role", "canary")]);
    assert_eq!(chosen_for(&snapshot, &canary), None);
}

#[test]
fn sidecars_with_and_without_the_label_get_different_clusters_and_equal_ones_share() {
    let snapshot = rules();
    let lb_of = |proxy: &Proxy| -> Vec<(String, LbPolicy)> {
        sidecar_outbound(&snapshot, proxy)
            .clusters
            .iter()
            .filter(|c| c.name.ends_with(WEB))
            .map(|c| (c.name.clone(), c.lb_policy()))
            .collect()
    };
    let canary = labelled("front", &[("app", "client"), ("role", "canary")]);
    let plain = labelled("front", &[("app", "client")]);
    let names = [
        format!("outbound|8080||{WEB}"),
        format!("outbound|9090||{WEB}"),
    ];
    assert_eq!(
        lb_of(&canary),
        names.clone().map(|n| (n, LbPolicy::Random)).to_vec()
    );
    assert_eq!(
        lb_of(&plain),
        names.map(|n| (n, LbPolicy::RoundRobin)).to_vec()
    );
    // The selector's key is the one sidecars are grouped by; other labels are not.
    let keys = selected_label_keys(&snapshot);
    assert_eq!(keys, std::collections::BTreeSet::from(["role".to_string()]));
    let other_canary = labelled("front", &[("app", "other"), ("role", "canary")]);
    assert_eq!(
        outbound_key(&canary, &keys),
        outbound_key(&other_canary, &keys)
    );
    assert_ne!(outbound_key(&canary, &keys), outbound_key(&plain, &keys));
    assert_eq!(lb_of(&other_canary), lb_of(&canary));
}
