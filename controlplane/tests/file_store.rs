//! The file store against a real directory and the real file watcher: each edit is observed
//! through the snapshots it publishes, never by waiting a while.

mod support;

use std::{fs, sync::Arc, time::Duration};

use mesh_controlplane::{
    mesh_config::MeshConfig,
    model::Snapshot,
    store::{FileStore, FileStoreConfig},
};
use tokio::{sync::watch, time::timeout};

use self::support::save;

/// Far longer than a reload takes, even on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(10);

fn service(name: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: shop\n\
         spec:\n  clusterIP: 10.96.0.10\n  ports:\n  - name: http\n    port: {port}\n"
    )
}

/// Each service of a snapshot as `hostname:port,port`.
fn services(snapshot: &Snapshot) -> Vec<String> {
    let show = |s: &Arc<mesh_controlplane::model::Service>| {
        let ports: Vec<_> = s.ports.iter().map(|p| p.number.to_string()).collect();
        format!("{}:{}", s.hostname, ports.join(","))
    };
    snapshot.services().iter().map(show).collect()
}

/// Waits for a published snapshot whose services are `want`, and returns its version.
async fn wait_for(snapshots: &mut watch::Receiver<Arc<Snapshot>>, want: &[&str]) -> u64 {
    let found = timeout(PATIENCE, snapshots.wait_for(|s| services(s) == want)).await;
    let found = found.map(|result| result.map(|snapshot| snapshot.version()));
    let last = services(&snapshots.borrow());
    match found {
        Ok(Ok(version)) => version,
        Ok(Err(_)) => panic!("the store stopped; last services: {last:?}"),
        Err(_) => panic!("no snapshot with services {want:?}; last: {last:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_breaks_fixes_and_deletes_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::write(root.join("reviews.yaml"), service("reviews", 9080)).unwrap();
    let mut config = FileStoreConfig::new(vec![root.to_path_buf()]);
    config.debounce = Duration::from_millis(20);
    let store = FileStore::start(config, MeshConfig::default()).unwrap();
    let mut snapshots = store.snapshots();

    // The first read is published before `start` returns.
    assert_eq!(
        services(&snapshots.borrow_and_update()),
        vec!["reviews.shop.svc.cluster.local:9080"]
    );
    assert_eq!(store.errors().len(), 0);

    // A new file, in a new subdirectory.
    fs::create_dir(root.join("ratings")).unwrap();
    save(
        &root.join("ratings"),
        "ratings.yaml",
        &service("ratings", 9080),
    );
    let added = wait_for(
        &mut snapshots,
        &[
            "ratings.shop.svc.cluster.local:9080",
            "reviews.shop.svc.cluster.local:9080",
        ],
    )
    .await;

    // An edit.
    save(root, "reviews.yaml", &service("reviews", 9090));
    let edited = wait_for(
        &mut snapshots,
        &[
            "ratings.shop.svc.cluster.local:9080",
            "reviews.shop.svc.cluster.local:9090",
        ],
    )
    .await;
    assert!(edited > added, "{edited} > {added}");

    // A broken file: its error is reported and its service stays as it last loaded, while a
    // change to another file in the same burst still applies.
    save(root, "reviews.yaml", "kind: Service\nmetadata: [\n");
    save(
        &root.join("ratings"),
        "ratings.yaml",
        &service("ratings", 9091),
    );
    wait_for(
        &mut snapshots,
        &[
            "ratings.shop.svc.cluster.local:9091",
            "reviews.shop.svc.cluster.local:9090",
        ],
    )
    .await;
    let mut errors = store.watch_errors();
    let reported = timeout(PATIENCE, errors.wait_for(|e| !e.is_empty())).await;
    let reported: Vec<String> = reported
        .unwrap()
        .unwrap()
        .iter()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        reported,
        vec![format!(
            "{}:2: unclosed bracket '['",
            root.join("reviews.yaml").display()
        )]
    );

    // Fixed, with new content.
    save(root, "reviews.yaml", &service("reviews", 9092));
    wait_for(
        &mut snapshots,
        &[
            "ratings.shop.svc.cluster.local:9091",
            "reviews.shop.svc.cluster.local:9092",
        ],
    )
    .await;
    let cleared = timeout(PATIENCE, errors.wait_for(|e| e.is_empty())).await;
    assert!(cleared.is_ok_and(|r| r.is_ok()), "{:?}", store.errors());

    // Deleted: exactly its service goes.
    fs::remove_file(root.join("ratings/ratings.yaml")).unwrap();
    wait_for(&mut snapshots, &["reviews.shop.svc.cluster.local:9092"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_directories_make_one_model() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    fs::write(first.path().join("a.yaml"), service("reviews", 9080)).unwrap();
    let dirs = vec![first.path().to_path_buf(), second.path().to_path_buf()];
    let store = FileStore::start(FileStoreConfig::new(dirs), MeshConfig::default()).unwrap();
    let mut snapshots = store.snapshots();

    save(second.path(), "b.yaml", &service("ratings", 9080));
    wait_for(
        &mut snapshots,
        &[
            "ratings.shop.svc.cluster.local:9080",
            "reviews.shop.svc.cluster.local:9080",
        ],
    )
    .await;

    // The same service in both directories: the first directory's stays, the second's is
    // reported.
    save(second.path(), "b.yaml", &service("reviews", 9999));
    wait_for(&mut snapshots, &["reviews.shop.svc.cluster.local:9080"]).await;
    let reported: Vec<String> = store.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(
        reported,
        vec![format!(
            "{}:1: Service shop/reviews: duplicate resource, first defined at {}:1",
            second.path().join("b.yaml").display(),
            first.path().join("a.yaml").display()
        )]
    );
}

#[tokio::test]
async fn a_missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let error = FileStore::start(
        FileStoreConfig::new(vec![missing.clone()]),
        MeshConfig::default(),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot watch {}: ", missing.display())),
        "{error}"
    );
}

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

/// A TLS Secret in `shop`, its certificate in `stringData` and its key in `data` (base64).
fn tls_secret(name: &str, key_base64: &str) -> String {
    let cert = CERT.replace('\n', "\\n");
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: shop\n\
         type: kubernetes.io/tls\nstringData:\n  tls.crt: \"{cert}\"\n\
         data:\n  tls.key: {key_base64}\n"
    )
}

/// What each Secret of `shop` holds: `name: key` with the key's PEM label, or why it is not a
/// credential.
fn secrets(snapshot: &Snapshot) -> Vec<String> {
    let credentials = snapshot.credentials();
    let names = ["db", "web"];
    let held = names.iter().filter_map(|name| {
        let credential = credentials.get("shop", name)?.as_ref().ok()?;
        let key = credential.certificate.as_ref()?.private_key.clone();
        Some(format!(
            "{name}: {}",
            String::from_utf8(key).ok()?.lines().next()?
        ))
    });
    let malformed = credentials
        .malformed()
        .map(|(key, error)| format!("{}: {error}", key.name));
    held.chain(malformed).collect()
}

async fn wait_for_secrets(store: &FileStore, want: &[&str]) {
    let mut snapshots = store.snapshots();
    let found = timeout(PATIENCE, snapshots.wait_for(|s| secrets(s) == want))
        .await
        .is_ok_and(|r| r.is_ok());
    let last = secrets(&snapshots.borrow());
    let errors = store.errors();
    assert!(
        found,
        "no snapshot with secrets {want:?}; last: {last:?}, errors {errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_added_changed_reported_and_deleted() {
    // "-----BEGIN PRIVATE KEY-----\n…", base64.
    const KEY_BASE64: &str =
        "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUUKLS0tLS1FTkQgUFJJVkFURSBLRVktLS0tLQo=";
    // "-----BEGIN EC PRIVATE KEY-----\n…", base64.
    const EC_KEY_BASE64: &str =
        "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCk1JSUUKLS0tLS1FTkQgRUMgUFJJVkFURSBLRVktLS0tLQo=";
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut config = FileStoreConfig::new(vec![root.to_path_buf()]);
    config.debounce = Duration::from_millis(20);
    let store = FileStore::start(config, MeshConfig::default()).unwrap();
    let mut snapshots = store.snapshots();
    assert_eq!(
        secrets(&snapshots.borrow_and_update()),
        Vec::<String>::new()
    );

    save(root, "web.yaml", &tls_secret("web", KEY_BASE64));
    wait_for_secrets(&store, &["web: -----BEGIN PRIVATE KEY-----"]).await;

    save(root, "web.yaml", &tls_secret("web", EC_KEY_BASE64));
    wait_for_secrets(&store, &["web: -----BEGIN EC PRIVATE KEY-----"]).await;

    // A key that is not base64 is a file error: the store keeps the last good Secret.
    save(root, "web.yaml", &tls_secret("web", "not*base64"));
    let mut errors = store.watch_errors();
    // The guard `wait_for` returns holds the channel: dropped at once, or the store blocks.
    let reported = timeout(PATIENCE, errors.wait_for(|e| !e.is_empty()))
        .await
        .is_ok_and(|r| r.is_ok());
    assert!(reported, "no error reported");
    let reported: Vec<String> = store.errors().iter().map(|e| e.to_string()).collect();
    let file = root.join("web.yaml");
    assert_eq!(
        reported,
        [format!(
            "{}:1: Secret shop/web: data.tls.key: Invalid symbol 42, offset 3.",
            file.display()
        )]
    );
    assert_eq!(
        secrets(&snapshots.borrow()),
        ["web: -----BEGIN EC PRIVATE KEY-----"]
    );

    // A Secret that reads but is no credential is reported by the model, not the store.
    save(
        root,
        "db.yaml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\n\
         type: kubernetes.io/tls\nstringData: {tls.key: x}\n",
    );
    wait_for_secrets(
        &store,
        &[
            "web: -----BEGIN EC PRIVATE KEY-----",
            "db: it has tls.key but not tls.crt",
        ],
    )
    .await;

    fs::remove_file(root.join("web.yaml")).unwrap();
    fs::remove_file(root.join("db.yaml")).unwrap();
    wait_for_secrets(&store, &[]).await;
}
