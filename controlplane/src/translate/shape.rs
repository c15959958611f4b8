//! Which sidecars get the same outbound configuration.
//!
//! Outbound translation reads a sidecar's namespace and, through the selectors of the config
//! (a Sidecar's `workloadSelector`, a route match's `sourceLabels`, …), some of its labels;
//! nothing else about it. Sidecars that agree on those get the same outbound listeners,
//! routes, clusters and endpoints, so the control plane translates and encodes them once per
//! such group instead of once per sidecar. Only the inbound side, which depends on the
//! sidecar's own addresses, is translated for each. When the mesh traces requests, spans name
//! the sidecar's workload, so the labels (or the workload name) that name it are read too.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::{Proxy, ProxyKind, proxy::trace};
use crate::model::Snapshot;

/// Fields of Istio config whose values select workloads by their labels: route matches'
/// `sourceLabels`, `workloadSelector` (Sidecar, DestinationRule, ServiceEntry) and `selector`
/// (Gateway, the security kinds). Keys found under them anywhere in the config are the label
/// keys translation may read; taking a few too many (a ServiceEntry's `workloadSelector`
/// picks endpoints, not proxies) only makes groups smaller. A DestinationRule subset's
/// `labels` pick endpoints and are not taken.
const SELECTOR_FIELDS: &[&str] = &["sourceLabels", "workloadSelector", "selector"];

/// What outbound translation reads of a sidecar: sidecars with equal keys get equal outbound
/// configuration.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutboundKey {
    /// The sidecar's namespace.
    pub namespace: String,
    /// Its labels that some selector of the config reads.
    pub labels: BTreeMap<String, String>,
    /// Its workload name when tracing names the workload by it: when the canonical-name
    /// labels are read and the sidecar has none of them. Empty otherwise.
    pub workload_name: String,
}

/// The label keys any selector of `snapshot`'s Istio config reads, and, when the mesh traces
/// requests, the ones that name a workload's canonical service and revision in its spans.
pub fn selected_label_keys(snapshot: &Snapshot) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    if trace::may_trace(snapshot) {
        keys.extend(
            trace::CANONICAL_NAME_LABELS
                .iter()
                .chain(&trace::CANONICAL_REVISION_LABELS)
                .map(|k| k.to_string()),
        );
    }
    for kind in mesh_common::api::Kind::ALL {
        for config in snapshot.config().of_kind(*kind) {
            collect_selector_keys(&config.resource.to_json(), &mut keys);
        }
    }
    keys
}

/// The outbound key of `proxy`, given the label keys selectors read.
pub fn outbound_key(proxy: &Proxy, selected: &BTreeSet<String>) -> OutboundKey {
    let labels: BTreeMap<String, String> = proxy
        .labels
        .iter()
        .filter(|(key, _)| selected.contains(*key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let named = trace::CANONICAL_NAME_LABELS
        .iter()
        .any(|k| labels.get(*k).is_some_and(|v| !v.is_empty()));
    let reads_names = trace::CANONICAL_NAME_LABELS
        .iter()
        .all(|k| selected.contains(*k));
    OutboundKey {
        namespace: proxy.namespace.clone(),
        workload_name: if reads_names && !named {
            proxy.workload_name.clone()
        } else {
            String::new()
        },
        labels,
    }
}

// === impl OutboundKey ===

impl OutboundKey {
    /// The sidecar translation sees for the group: the key and nothing else, so that what it
    /// produces cannot depend on anything the group's members differ in.
    pub fn representative(&self) -> Proxy {
        Proxy {
            kind: ProxyKind::Sidecar,
            ips: Vec::new(),
            pod: String::new(),
            namespace: self.namespace.clone(),
            labels: self.labels.clone(),
            service_account: String::new(),
            workload_name: self.workload_name.clone(),
        }
    }
}

/// Adds the keys of every label map found under a selector field of `value`.
fn collect_selector_keys(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                if SELECTOR_FIELDS.contains(&name.as_str()) {
                    collect_label_keys(field, keys);
                } else {
                    collect_selector_keys(field, keys);
                }
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_selector_keys(item, keys)),
        _ => {}
    }
}

/// Adds the keys of every string-valued entry of `value`, however deep (`workloadSelector:
/// {labels: {app: reviews}}` and `selector: {matchLabels: {app: reviews}}` alike).
fn collect_label_keys(value: &Value, keys: &mut BTreeSet<String>) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                match field {
                    Value::String(_) => {
                        keys.insert(name.clone());
                    }
                    other => collect_label_keys(other, keys),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_label_keys(item, keys)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn selector_keys_are_found_wherever_selectors_are() {
        let mut keys = BTreeSet::new();
        collect_selector_keys(
            &json!({
                "kind": "VirtualService",
                "metadata": {"name": "r", "labels": {"team": "books"}},
                "spec": {
                    "hosts": ["reviews"],
                    "http": [{"match": [{"sourceLabels": {"app": "productpage"},
                                         "headers": {"end-user": {"exact": "jason"}}}]}],
                    "tcp": [{"match": [{"sourceLabels": {"version": "v2"}}]}],
                    "subsets": [{"name": "v1", "labels": {"track": "stable"}}],
                },
            }),
            &mut keys,
        );
        collect_selector_keys(
            &json!({"spec": {"workloadSelector": {"labels": {"role": "edge"}}},
                    "other": {"selector": {"matchLabels": {"tier": "web"}}}}),
            &mut keys,
        );
        // Labels of the config itself and subsets' labels select no proxy.
        assert_eq!(
            keys,
            ["app", "role", "tier", "version"].map(str::to_owned).into()
        );
    }

    #[test]
    fn with_tracing_the_key_keeps_what_names_the_workload() {
        let traced = Snapshot::build(
            &crate::model::Objects::default(),
            &crate::mesh_config::MeshConfig::from_yaml("defaultProviders: {tracing: [otel]}")
                .unwrap(),
        );
        let selected = selected_label_keys(&traced);
        assert_eq!(
            selected,
            [
                "app",
                "app.kubernetes.io/name",
                "app.kubernetes.io/version",
                "service.istio.io/canonical-name",
                "service.istio.io/canonical-revision",
                "version"
            ]
            .map(str::to_owned)
            .into()
        );
        let untraced = Snapshot::build(
            &crate::model::Objects::default(),
            &crate::mesh_config::MeshConfig::default(),
        );
        assert_eq!(selected_label_keys(&untraced), BTreeSet::new());
        let proxy = |labels: &[(&str, &str)]| Proxy {
            kind: ProxyKind::Sidecar,
            ips: Vec::new(),
            pod: "job-1".to_owned(),
            namespace: "shop".to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            service_account: String::new(),
            workload_name: "nightly-job".to_owned(),
        };
        // Without a label that names it, the workload name does, and the key keeps it.
        let unnamed = outbound_key(&proxy(&[("team", "a")]), &selected);
        assert_eq!(unnamed.workload_name, "nightly-job");
        assert_eq!(unnamed.representative().workload_name, "nightly-job");
        let named = outbound_key(&proxy(&[("app", "job"), ("version", "v2")]), &selected);
        assert_eq!((named.workload_name.as_str(), named.labels.len()), ("", 2));
        // Untraced, the workload name is never read.
        assert_eq!(
            outbound_key(&proxy(&[]), &BTreeSet::new()).workload_name,
            ""
        );
    }

    #[test]
    fn the_key_keeps_only_selected_labels_and_the_representative_only_the_key() {
        let proxy = Proxy {
            kind: ProxyKind::Sidecar,
            ips: vec!["10.0.0.7".to_owned()],
            pod: "reviews-v1-7d8f".to_owned(),
            namespace: "shop".to_owned(),
            labels: [("app", "reviews"), ("pod-template-hash", "7d8f")]
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .into(),
            service_account: "reviews".to_owned(),
            workload_name: "reviews-v1".to_owned(),
        };
        let key = outbound_key(&proxy, &["app".to_owned()].into());
        assert_eq!(
            key,
            OutboundKey {
                namespace: "shop".to_owned(),
                labels: [("app".to_owned(), "reviews".to_owned())].into(),
                workload_name: String::new(),
            }
        );
        let representative = key.representative();
        assert_eq!(
            (representative.ips.len(), representative.pod.as_str()),
            (0, "")
        );
        assert_eq!(representative.labels, key.labels);
        assert_eq!(
            outbound_key(&proxy, &BTreeSet::new()).labels,
            BTreeMap::new()
        );
    }
}
