use std::fs;

use pretty_assertions::assert_eq;

use super::*;
use crate::api::Kind;

const KNOWN_KINDS: &str = "Istio's VirtualService, DestinationRule, Gateway, ServiceEntry, \
                           WorkloadEntry, Sidecar, AuthorizationPolicy, PeerAuthentication, \
                           RequestAuthentication, Telemetry and Kubernetes' Namespace (v1), \
                           Service (v1), Pod (v1), EndpointSlice (discovery.k8s.io/v1), \
                           Secret (v1)";

fn vs(name: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: {name}\n\
         spec:\n  hosts: [{name}]\n"
    )
}

fn dr(name: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\nmetadata:\n  \
         name: {name}\n  namespace: prod\nspec:\n  host: {name}\n"
    )
}

fn load(text: &str, name: &str) -> LoadResult {
    load_str(text, Path::new(name), &LoadOptions::default())
}

/// Each resource as `origin #document Kind namespace/name`.
fn resources(result: &LoadResult) -> Vec<String> {
    let show = |l: &Loaded| {
        let key = l.object.key();
        format!("{} #{} {key}", l.origin, l.origin.document)
    };
    result.resources.iter().map(show).collect()
}

fn errors(result: &LoadResult) -> Vec<String> {
    result.errors.iter().map(ToString::to_string).collect()
}

/// Origins relative to `dir`, so that expectations do not depend on where the test runs.
fn relative_to(dir: &Path, mut result: LoadResult) -> LoadResult {
    let origins = result.resources.iter_mut().map(|l| &mut l.origin);
    for origin in origins.chain(result.errors.iter_mut().map(|e| &mut e.origin)) {
        if let Ok(relative) = origin.file.strip_prefix(dir) {
            origin.file = relative.to_path_buf();
        }
    }
    result
}

#[test]
fn multi_document_streams_keep_indices_and_start_lines() {
    let text = format!(
        "# bookinfo routes\n---\n{}---\n\n# ratings\n{}...\n---\n{}",
        vs("reviews"),
        vs("ratings"),
        dr("reviews"),
    );
    let result = load(&text, "routes.yaml");
    assert_eq!(
        resources(&result),
        vec![
            "routes.yaml:3 #0 VirtualService default/reviews",
            "routes.yaml:12 #1 VirtualService default/ratings",
            "routes.yaml:20 #2 DestinationRule prod/reviews",
        ]
    );
    assert_eq!(errors(&result), Vec::<String>::new());
    assert_eq!(
        result.resources[1].origin,
        Origin {
            file: PathBuf::from("routes.yaml"),
            document: 1,
            line: 12,
            item: None,
        }
    );
    assert_eq!(
        result.resources[2].api_version,
        "networking.istio.io/v1beta1"
    );
}

#[test]
fn broken_yaml_names_the_parser_line_and_the_other_documents_still_load() {
    let broken = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  \
                  name: broken\n spec: {}\n";
    let text = format!("{}---\n{broken}---\n{}", vs("reviews"), vs("ratings"));
    let result = load(&text, "routes.yaml");
    assert_eq!(
        resources(&result),
        vec![
            "routes.yaml:1 #0 VirtualService default/reviews",
            "routes.yaml:14 #2 VirtualService default/ratings",
        ]
    );
    assert_eq!(
        errors(&result),
        vec!["routes.yaml:12: while parsing a block mapping, did not find expected key"]
    );
    assert_eq!(result.errors[0].origin.document, 1);
    assert_eq!(result.errors[0].kind, None);

    // Lines are counted from the start of the stream, past comments and blank lines.
    let result = load("a: 1\n---\n# note\n\nb: [\n", "x.yaml");
    assert_eq!(
        errors(&result),
        vec![
            "x.yaml:1: apiVersion is missing or not a string",
            "x.yaml:5: unclosed bracket '['",
        ]
    );
}

#[test]
fn tabs_and_inline_documents() {
    let text = "kind: VirtualService\nmetadata:\n\tname: x\n---\n--- {apiVersion: \
                networking.istio.io/v1, kind: Gateway, metadata: {name: gw}, spec: {}}\n";
    let result = load(text, "t.yaml");
    assert_eq!(resources(&result), vec!["t.yaml:5 #1 Gateway default/gw"]);
    assert_eq!(
        errors(&result),
        vec!["t.yaml:3: tabs disallowed within this context (block indentation)"]
    );
}

#[test]
fn invalid_fields_are_named_with_the_resource() {
    let text = format!(
        "{}  http:\n  - route:\n    - destination: {{host: r}}\n      weight: ten\n",
        vs("reviews")
    );
    let result = load(&text, "reviews.yaml");
    assert_eq!(
        errors(&result),
        vec![
            "reviews.yaml:1: VirtualService default/reviews: spec.http[0].route[0].weight: \
             invalid type: string \"ten\", expected i32"
        ]
    );
    let error = &result.errors[0];
    assert_eq!(error.kind.as_deref(), Some("VirtualService"));
    assert_eq!(error.namespace.as_deref(), Some("default"));
    assert_eq!(error.name.as_deref(), Some("reviews"));
    assert_eq!(result.resources, vec![]);
}

#[test]
fn unknown_kinds_are_errors_that_name_the_resource() {
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: reviews\n  namespace: shop\n\
                ---\napiVersion: networking.istio.io/v1\nkind: Service\nmetadata: {name: r}\n";
    let result = load(text, "cm.yaml");
    assert_eq!(
        errors(&result),
        vec![
            format!(
                "cm.yaml:1: ConfigMap shop/reviews: unknown kind \"ConfigMap\" of apiVersion \
                 \"v1\"; mesh.rs reads {KNOWN_KINDS}"
            ),
            format!(
                "cm.yaml:7: Service default/r: unknown kind \"Service\" of apiVersion \
                 \"networking.istio.io/v1\"; mesh.rs reads {KNOWN_KINDS}"
            ),
        ]
    );
}

#[test]
fn missing_names_kinds_and_versions_are_errors() {
    let text = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {}\nspec: {}\n---\n\
                apiVersion: v1\nmetadata: {name: x}\n---\n\
                kind: Gateway\nmetadata: {name: g}\nspec: {}\n---\n\
                apiVersion: security.istio.io/v1alpha1\nkind: PeerAuthentication\n\
                metadata: {name: p}\nspec: {}\n";
    let result = load(text, "bad.yaml");
    assert_eq!(
        errors(&result),
        vec![
            "bad.yaml:1: Gateway: metadata.name is missing",
            "bad.yaml:6: default/x: kind is missing or not a string",
            "bad.yaml:9: Gateway default/g: apiVersion is missing or not a string",
            "bad.yaml:13: PeerAuthentication default/p: PeerAuthentication is not served as \
             \"security.istio.io/v1alpha1\"; use security.istio.io/v1 or security.istio.io/v1beta1",
        ]
    );
}

#[test]
fn scalars_and_sequences_are_not_resources() {
    let text = "just a string\n---\n- a\n- b\n---\n42\n---\ntrue\n---\n~\n";
    let result = load(text, "odd.yaml");
    assert_eq!(
        errors(&result),
        vec![
            "odd.yaml:1: the document is a string, not a mapping",
            "odd.yaml:3: the document is a sequence, not a mapping",
            "odd.yaml:6: the document is a number, not a mapping",
            "odd.yaml:8: the document is a boolean, not a mapping",
        ]
    );
    assert_eq!(result.resources, vec![]);
}

#[test]
fn duplicates_are_errors_that_point_at_the_first() {
    let explicit = vs("reviews").replace("name: reviews", "name: reviews\n  namespace: default");
    let other = vs("reviews").replace("name: reviews", "name: reviews\n  namespace: other");
    let mut loader = Loader::new(LoadOptions::default());
    loader.add_str(&vs("reviews"), Path::new("a.yaml"));
    loader.add_str(&format!("{other}---\n{explicit}"), Path::new("b.yaml"));
    let result = loader.finish();
    assert_eq!(
        resources(&result),
        vec![
            "a.yaml:1 #0 VirtualService default/reviews",
            "b.yaml:1 #0 VirtualService other/reviews"
        ]
    );
    assert_eq!(
        errors(&result),
        vec![
            "b.yaml:9: VirtualService default/reviews: duplicate resource, first defined at a.yaml:1"
        ]
    );
}

#[test]
fn a_file_read_alone_keeps_its_duplicates_for_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.yaml");
    fs::write(&file, format!("{}---\n{}", vs("reviews"), vs("reviews"))).unwrap();
    let result = relative_to(dir.path(), load_file_alone(&file, &LoadOptions::default()));
    assert_eq!(
        resources(&result),
        vec![
            "a.yaml:1 #0 VirtualService default/reviews",
            "a.yaml:8 #1 VirtualService default/reviews"
        ]
    );
    assert_eq!(errors(&result), Vec::<String>::new());
    // Listed as a load reads the directory: the file, and nothing hidden.
    fs::write(dir.path().join(".a.yaml.tmp"), "not: read").unwrap();
    let listed: Vec<PathBuf> = list_files(dir.path()).into_iter().flatten().collect();
    assert_eq!(listed, vec![file]);
}

#[test]
fn the_default_namespace_is_the_callers() {
    let options = LoadOptions {
        default_namespace: "shop".to_string(),
        ..LoadOptions::default()
    };
    let result = load_str(
        &format!("{}---\n{}", vs("a"), dr("b")),
        Path::new("x.yaml"),
        &options,
    );
    assert_eq!(
        resources(&result),
        vec![
            "x.yaml:1 #0 VirtualService shop/a",
            "x.yaml:8 #1 DestinationRule prod/b"
        ]
    );
}

#[test]
fn empty_streams_load_nothing() {
    for text in [
        "",
        "\n\n",
        "# only comments\n---\n# and separators\n---\n...\n---\n",
        "---\n~\n",
    ] {
        assert_eq!(load(text, "empty.yaml"), LoadResult::default(), "{text:?}");
    }
    assert_eq!(load("", "empty.json"), LoadResult::default());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.yaml");
    fs::write(&path, "").unwrap();
    assert_eq!(
        load_file(&path, &LoadOptions::default()),
        LoadResult::default()
    );
}

#[test]
fn lists_stand_for_their_items() {
    let text = "apiVersion: v1\nkind: List\nitems:\n\
                - apiVersion: networking.istio.io/v1\n  kind: VirtualService\n  \
                  metadata: {name: a}\n  spec: {}\n\
                - apiVersion: networking.istio.io/v1\n  kind: VirtualService\n  \
                  metadata: {name: b, namespace: prod}\n  \
                  spec: {http: [{route: [{destination: {host: b}, weight: ten}]}]}\n\
                ---\nkind: List\nitems: {}\n---\n\
                apiVersion: networking.istio.io/v1\nkind: VirtualServiceList\nitems: []\n";
    let result = load(text, "list.yaml");
    assert_eq!(
        resources(&result),
        vec!["list.yaml:1 (items[0]) #0 VirtualService default/a"]
    );
    assert_eq!(
        errors(&result),
        vec![
            "list.yaml:1 (items[1]): VirtualService prod/b: spec.http[0].route[0].weight: \
             invalid type: string \"ten\", expected i32",
            "list.yaml:13: List: items is missing or not a sequence",
        ]
    );
    assert_eq!(
        result.resources[0].origin.item,
        Some(FieldPath::root().field("items").index(0))
    );
}

#[test]
fn json_is_an_object_a_stream_of_them_or_an_array() {
    let vs = |name: &str| {
        format!(
            r#"{{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {{"name": "{name}"}}, "spec": {{}}}}"#
        )
    };
    let one = load(&vs("a"), "a.json");
    assert_eq!(
        resources(&one),
        vec!["a.json:1 #0 VirtualService default/a"]
    );

    let stream = format!("{}\n\n  {}\n", vs("a"), vs("b"));
    assert_eq!(
        resources(&load(&stream, "s.json")),
        vec![
            "s.json:1 #0 VirtualService default/a",
            "s.json:3 #1 VirtualService default/b"
        ]
    );

    let array = format!("[\n  {},\n  {},\n  7\n]\n", vs("a"), vs("b"));
    let result = load(&array, "list.json");
    assert_eq!(
        resources(&result),
        vec![
            "list.json:1 ([0]) #0 VirtualService default/a",
            "list.json:1 ([1]) #0 VirtualService default/b",
        ]
    );
    assert_eq!(
        errors(&result),
        vec!["list.json:1 ([2]): the document is a number, not a mapping"]
    );

    let list = format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\",\n\"items\": [{}]}}",
        vs("c")
    );
    assert_eq!(
        resources(&load(&list, "list.json")),
        vec!["list.json:1 (items[0]) #0 VirtualService default/c"]
    );

    // Without a telling name, a stream that starts like JSON is read as JSON.
    assert_eq!(resources(&load(&array, "<stdin>")).len(), 2);
}

#[test]
fn broken_json_names_its_line() {
    let text = "{\"apiVersion\": \"v1\",\n \"kind\": \"List\",\n \"items\": [,]}\n";
    let result = load(text, "bad.json");
    assert_eq!(errors(&result), vec!["bad.json:3: expected value"]);
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark_count_lines_alike() {
    let text = format!("\u{feff}# routes\n---\n{}---\n{}", vs("a"), "kind: [\n");
    let crlf = text.replace('\n', "\r\n");
    let result = load(&crlf, "crlf.yaml");
    assert_eq!(
        resources(&result),
        vec!["crlf.yaml:3 #0 VirtualService default/a"]
    );
    assert_eq!(errors(&result), vec!["crlf.yaml:10: unclosed bracket '['"]);
    assert_eq!(
        result.resources[0].object.key(),
        LoadedKey {
            kind: LoadedKind::Istio(Kind::VirtualService),
            namespace: "default".to_string(),
            name: "a".to_string(),
        }
    );
}

#[test]
fn a_directory_loads_its_config_files_in_order_and_reports_the_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir_all(root.join("b-nested")).unwrap();
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::write(root.join("c-ratings.yml"), vs("ratings")).unwrap();
    fs::write(
        root.join("a-reviews.yaml"),
        format!("{}---\n{}", vs("reviews"), dr("reviews")),
    )
    .unwrap();
    fs::write(
        root.join("b-nested/bad.yaml"),
        "kind: VirtualService\nmetadata: [\n",
    )
    .unwrap();
    fs::write(root.join("b-nested/gw.json"), r#"{"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "gw"}, "spec": {}}"#).unwrap();
    // None of these is read.
    fs::write(root.join(".git/routes.yaml"), "not: read").unwrap();
    fs::write(root.join(".a-reviews.yaml.swp"), "not: read").unwrap();
    fs::write(root.join("a-reviews.yaml~"), "not: read").unwrap();
    fs::write(root.join("README.md"), "# not read").unwrap();

    let result = relative_to(root, load_path(root, &LoadOptions::default()));
    assert_eq!(
        resources(&result),
        vec![
            "a-reviews.yaml:1 #0 VirtualService default/reviews",
            "a-reviews.yaml:8 #1 DestinationRule prod/reviews",
            "b-nested/gw.json:1 #0 Gateway default/gw",
            "c-ratings.yml:1 #0 VirtualService default/ratings",
        ]
    );
    assert_eq!(
        errors(&result),
        vec!["b-nested/bad.yaml:2: unclosed bracket '['"]
    );
}

#[test]
fn unreadable_paths_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let options = LoadOptions {
        max_file_bytes: 32,
        ..LoadOptions::default()
    };
    fs::write(root.join("latin1.yaml"), b"apiVersion: v1\nkind: Caf\xe9\n").unwrap();
    fs::write(root.join("large.yaml"), "#".repeat(33)).unwrap();
    fs::create_dir(root.join("sub")).unwrap();
    let mut loader = Loader::new(options);
    loader.add_path(&root.join("missing.yaml"));
    loader.add_file(&root.join("sub"));
    loader.add_path(&root.join("latin1.yaml"));
    loader.add_path(&root.join("large.yaml"));
    let result = relative_to(root, loader.finish());
    assert_eq!(
        errors(&result),
        vec![
            "missing.yaml: cannot read: No such file or directory (os error 2)",
            "sub: cannot read: Is a directory (os error 21)",
            "latin1.yaml:2: not UTF-8 text: invalid byte at offset 24",
            "large.yaml: the file is larger than 32 bytes",
        ]
    );
    assert_eq!(result.errors[0].origin.line, 0);
}

#[test]
fn unknown_fields_are_kept() {
    let text = vs("a").replace("  hosts:", "  hostz: [x]\n  hosts:");
    let result = load(&text, "a.yaml");
    let unknown: Vec<_> = result.resources[0]
        .unknown_fields
        .iter()
        .map(|f| f.path.to_string())
        .collect();
    assert_eq!(unknown, vec!["spec.hostz"]);
}
