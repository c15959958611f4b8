//! Reloads as sequences of directory contents: what changes, what is kept, what is reported.

use std::path::Path;

use k8s_openapi::api::core::v1::{Namespace, Service};
use mesh_common::{
    api::{Kind, ResourceKey},
    load::{LoadOptions, Loader},
};
use pretty_assertions::assert_eq;

use super::*;

fn service(name: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n\
         spec: {{ports: [{{port: {port}}}]}}\n"
    )
}

fn route(name: &str, host: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}}}\n\
         spec: {{hosts: [{host}]}}\n"
    )
}

const BROKEN: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: [\n";

/// One load of a directory holding `files`, in order.
fn load(files: &[(&str, &str)]) -> LoadResult {
    let mut loader = Loader::new(LoadOptions::default());
    for (name, text) in files {
        loader.add_str(text, Path::new(name));
    }
    loader.finish()
}

/// Each change as `upsert Kind namespace/name` or `delete Kind namespace/name`, and for a
/// VirtualService upsert its hosts, for a Service upsert its first port.
fn changes(reconciled: &Reconciled) -> Vec<String> {
    let show = |change: &Change| match change {
        Change::Delete(key) => format!("delete {key}"),
        Change::Upsert(object) => {
            let detail = match object {
                LoadedObject::Istio(resource) => resource.to_json()["spec"]["hosts"].to_string(),
                LoadedObject::Service(s) => {
                    let ports = s.spec.as_ref().and_then(|s| s.ports.as_ref());
                    ports.map(|p| p[0].port.to_string()).unwrap_or_default()
                }
                _ => String::new(),
            };
            format!("upsert {} {detail}", object.key())
        }
    };
    reconciled.changes.iter().map(show).collect()
}

fn errors(reconciled: &Reconciled) -> Vec<String> {
    reconciled.errors.iter().map(ToString::to_string).collect()
}

/// Each file of the state with the keys applied from it.
fn owners(state: &PerFileState) -> Vec<String> {
    let show = |file: &Path| {
        let keys: Vec<_> = state
            .keys_of(file)
            .iter()
            .map(ToString::to_string)
            .collect();
        format!("{}: {}", file.display(), keys.join(", "))
    };
    state.files().map(show).collect()
}

/// Reconciles each load in turn, from nothing, and returns the last outcome.
fn run(loads: &[&[(&str, &str)]]) -> Reconciled {
    let mut state = PerFileState::default();
    let mut last = Reconciled::default();
    for files in loads {
        last = reconcile(&state, load(files));
        state = last.state.clone();
    }
    last
}

#[test]
fn added_files_upsert_their_objects() {
    let a = format!(
        "{}---\n{}",
        service("reviews", 9080),
        route("reviews", "reviews")
    );
    let reconciled = run(&[&[("a.yaml", &a)]]);
    assert_eq!(
        changes(&reconciled),
        vec![
            "upsert VirtualService default/reviews [\"reviews\"]",
            "upsert Service default/reviews 9080",
        ]
    );
    assert_eq!(
        owners(&reconciled.state),
        vec!["a.yaml: VirtualService default/reviews, Service default/reviews"]
    );
    assert_eq!(errors(&reconciled), Vec::<String>::new());
}

#[test]
fn a_changed_file_upserts_only_what_changed_and_deletes_what_it_dropped() {
    let before = format!(
        "{}---\n{}---\n{}",
        service("reviews", 9080),
        route("reviews", "reviews"),
        route("ratings", "ratings")
    );
    let after = format!(
        "{}---\n{}",
        service("reviews", 9080),
        route("reviews", "r2")
    );
    let reconciled = run(&[&[("a.yaml", &before)], &[("a.yaml", &after)]]);
    assert_eq!(
        changes(&reconciled),
        vec![
            "delete VirtualService default/ratings",
            "upsert VirtualService default/reviews [\"r2\"]",
        ]
    );
}

#[test]
fn a_deleted_file_deletes_exactly_its_objects() {
    let a = service("reviews", 9080);
    let b = format!(
        "{}---\n{}",
        service("ratings", 9080),
        route("ratings", "ratings")
    );
    let reconciled = run(&[&[("a.yaml", &a), ("b.yaml", &b)], &[("a.yaml", &a)]]);
    assert_eq!(
        changes(&reconciled),
        vec![
            "delete VirtualService default/ratings",
            "delete Service default/ratings",
        ]
    );
    assert_eq!(
        owners(&reconciled.state),
        vec!["a.yaml: Service default/reviews"]
    );
}

#[test]
fn a_broken_file_keeps_its_last_good_objects_and_fixing_it_applies_the_new_ones() {
    let a = format!(
        "{}---\n{}",
        service("reviews", 9080),
        route("reviews", "reviews")
    );
    let b = service("ratings", 9080);
    // `a.yaml` breaks (its route changed too, but nothing of it is applied) while `b.yaml`
    // changes: only `b.yaml`'s change is made.
    let a_broken = format!("{}---\n{}", route("reviews", "elsewhere"), BROKEN);
    let b_changed = service("ratings", 9090);
    let good: &[(&str, &str)] = &[("a.yaml", &a), ("b.yaml", &b)];
    let broken: &[(&str, &str)] = &[("a.yaml", &a_broken), ("b.yaml", &b_changed)];
    let reconciled = run(&[good, broken]);
    assert_eq!(
        changes(&reconciled),
        vec!["upsert Service default/ratings 9090"]
    );
    assert_eq!(errors(&reconciled), vec!["a.yaml:8: unclosed bracket '['"]);
    assert_eq!(
        owners(&reconciled.state),
        vec![
            "a.yaml: VirtualService default/reviews, Service default/reviews",
            "b.yaml: Service default/ratings",
        ]
    );

    // Fixed, with different content: the new content is applied, the dropped Service deleted.
    let a_fixed = route("reviews", "fixed");
    let fixed: &[(&str, &str)] = &[("a.yaml", &a_fixed), ("b.yaml", &b_changed)];
    let reconciled = run(&[good, broken, fixed]);
    assert_eq!(
        changes(&reconciled),
        vec![
            "delete Service default/reviews",
            "upsert VirtualService default/reviews [\"fixed\"]",
        ]
    );
    assert_eq!(errors(&reconciled), Vec::<String>::new());
}

#[test]
fn a_file_that_never_loaded_applies_nothing() {
    let a = format!("{}---\n{}", service("reviews", 9080), BROKEN);
    let reconciled = run(&[&[("a.yaml", &a)]]);
    assert_eq!(changes(&reconciled), Vec::<String>::new());
    assert_eq!(owners(&reconciled.state), Vec::<String>::new());
    assert_eq!(errors(&reconciled), vec!["a.yaml:8: unclosed bracket '['"]);
}

#[test]
fn an_object_moved_to_another_file_changes_nothing_but_its_owner() {
    let both = format!(
        "{}---\n{}",
        service("reviews", 9080),
        route("reviews", "reviews")
    );
    let reconciled = run(&[
        &[("a.yaml", &both)],
        &[
            ("a.yaml", &service("reviews", 9080)),
            ("b.yaml", &route("reviews", "reviews")),
        ],
    ]);
    assert_eq!(changes(&reconciled), Vec::<String>::new());
    assert_eq!(
        owners(&reconciled.state),
        vec![
            "a.yaml: Service default/reviews",
            "b.yaml: VirtualService default/reviews",
        ]
    );

    // Deleting the file it left no longer deletes it.
    let reconciled = run(&[
        &[("a.yaml", &both)],
        &[("b.yaml", &route("reviews", "reviews"))],
    ]);
    assert_eq!(changes(&reconciled), vec!["delete Service default/reviews"]);
}

#[test]
fn duplicates_across_files_keep_the_first_and_the_rest_of_the_second_file() {
    let a = route("reviews", "reviews");
    let b = format!(
        "{}---\n{}",
        route("reviews", "other"),
        service("ratings", 9080)
    );
    let reconciled = run(&[&[("a.yaml", &a), ("b.yaml", &b)]]);
    assert_eq!(
        changes(&reconciled),
        vec![
            "upsert VirtualService default/reviews [\"reviews\"]",
            "upsert Service default/ratings 9080",
        ]
    );
    assert_eq!(
        errors(&reconciled),
        vec![
            "b.yaml:1: VirtualService default/reviews: duplicate resource, first defined at \
             a.yaml:1"
        ]
    );
    assert_eq!(
        owners(&reconciled.state),
        vec![
            "a.yaml: VirtualService default/reviews",
            "b.yaml: Service default/ratings",
        ]
    );
}

#[test]
fn an_object_kept_by_a_broken_file_shadows_a_new_definition() {
    let a = route("reviews", "reviews");
    let reconciled = run(&[
        &[("a.yaml", &a)],
        &[("a.yaml", BROKEN), ("b.yaml", &route("reviews", "other"))],
    ]);
    assert_eq!(changes(&reconciled), Vec::<String>::new());
    assert_eq!(
        errors(&reconciled),
        vec![
            "a.yaml:3: unclosed bracket '['",
            "b.yaml:1: VirtualService default/reviews: duplicate resource, first defined at \
             a.yaml:1, whose file does not load now: its last good version stays applied",
        ]
    );
    assert_eq!(
        owners(&reconciled.state),
        vec!["a.yaml: VirtualService default/reviews"]
    );
}

#[test]
fn changes_apply_to_the_model() {
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";
    let a = format!(
        "{namespace}---\n{}---\n{}",
        service("reviews", 9080),
        route("r", "r")
    );
    let added = run(&[&[("a.yaml", &a)]]);
    let mut objects = Objects::default();
    let applied: Vec<bool> = added
        .changes
        .into_iter()
        .map(|c| c.apply(&mut objects))
        .collect();
    assert_eq!(applied, vec![true, true, true]);
    assert!(objects.get::<Namespace>("", "shop").is_some());
    assert!(objects.get::<Service>("default", "reviews").is_some());
    let route_key = ResourceKey {
        kind: Kind::VirtualService,
        namespace: "default".to_string(),
        name: "r".to_string(),
    };
    assert!(objects.resources().contains_key(&route_key));
    let revision = objects.revision();

    let removed = run(&[&[("a.yaml", &a)], &[]]);
    let applied: Vec<bool> = removed
        .changes
        .into_iter()
        .map(|c| c.apply(&mut objects))
        .collect();
    assert_eq!(applied, vec![true, true, true]);
    assert_eq!(objects.all::<Namespace>().len(), 0);
    assert_eq!(objects.all::<Service>().len(), 0);
    assert_eq!(objects.resources().len(), 0);
    assert_eq!(objects.revision(), revision + 3);
}
