//! When the file store publishes: a lone endpoint change at once, anything else at the
//! window's trailing edge with the rest of its burst. Real files, the watcher's events sent by
//! hand, on tokio's paused clock so that the instants are exact.

use std::{collections::BTreeMap, fs, time::Duration};

use pretty_assertions::assert_eq;
use tempfile::TempDir;

use super::{events::Write, *};
use crate::{model::test_support::service, store::ChangedPath};

const QUIET: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(1);
const WEB_1: &str = "198.18.0.10";
const WEB_2: &str = "198.18.0.11";
const WEB_3: &str = "198.18.0.12";

/// What a published snapshot holds, as far as these tests look.
#[derive(Debug, PartialEq, Eq)]
struct Published {
    /// Each service's ports and endpoint addresses, by hostname.
    services: BTreeMap<String, (Vec<u16>, Vec<String>)>,
    virtual_services: usize,
}

/// A file store over a temporary directory, its watcher's events sent by the test.
struct Harness {
    dir: TempDir,
    start: Instant,
    events: mpsc::UnboundedSender<Watched>,
    published: mpsc::UnboundedReceiver<(u64, Published)>,
}

fn summary(snapshot: &Snapshot) -> Published {
    let services = snapshot.services().iter().map(|s| {
        let ports = s.ports.iter().map(|p| p.number).collect();
        let addresses = s.endpoints.iter().map(|e| e.address.clone()).collect();
        (s.hostname.clone(), (ports, addresses))
    });
    Published {
        services: services.collect(),
        virtual_services: snapshot
            .config()
            .of_kind(mesh_common::api::Kind::VirtualService)
            .len(),
    }
}

/// `web`'s Service alone, on port 80 (and 81 when `second_port`).
fn web_service(second_port: bool) -> String {
    let yaml = documents(&service("web", "a", "198.19.0.10", &[]), true);
    match second_port {
        true => yaml.replace(
            "ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}]",
            "ports: [{name: http, port: 80, targetPort: 8080, protocol: TCP}, \
             {name: http-2, port: 81, targetPort: 8080, protocol: TCP}]",
        ),
        false => yaml,
    }
}

/// `web`'s EndpointSlice and Pods, for these pod addresses.
fn web_endpoints(pods: &[&str]) -> String {
    documents(&service("web", "a", "198.19.0.10", pods), false)
}

/// The documents of `yaml` that are (or, without `services`, are not) a Service.
fn documents(yaml: &str, services: bool) -> String {
    let documents = yaml.split("\n---\n").filter(|d| !d.trim().is_empty());
    let chosen = documents.filter(|d| d.contains("\nkind: Service\n") == services);
    chosen.map(|d| format!("---\n{d}\n")).collect()
}

const WEB_VS: &str = "
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: a}
spec:
  hosts: [web]
  http:
  - timeout: 3s
    route:
    - destination: {host: web}
";

impl Harness {
    /// A store over `files`, its debounce window `QUIET`, at most `MAX`.
    fn start(files: &[(&str, String)], debounce_endpoints: bool) -> Self {
        let dir = TempDir::new().expect("a temporary directory");
        for (name, text) in files {
            fs::write(dir.path().join(name), text).expect("the file is written");
        }
        let dirs = vec![dir.path().to_path_buf()];
        let (files, first) = FileSet::new(&dirs, LoadOptions::default());
        let mesh = MeshConfig::default();
        let mut applier = Applier {
            files: Some(files),
            snapshot: Arc::new(Snapshot::build(&Objects::default(), &mesh)),
            objects: Objects::default(),
            errors: Arc::from(Vec::new()),
            files_parsed: Arc::new(AtomicU64::new(0)),
        };
        applier.apply(first);
        let (snapshots_tx, mut snapshots) = watch::channel(applier.snapshot());
        let (errors_tx, _) = watch::channel(applier.errors.clone());
        let config = FileStoreConfig {
            debounce: QUIET,
            max_delay: MAX,
            debounce_endpoints,
            ..FileStoreConfig::new(dirs)
        };
        let (events, events_rx) = mpsc::unbounded_channel();
        tokio::spawn(watch_loop(
            applier,
            config,
            events_rx,
            snapshots_tx,
            errors_tx,
        ));
        let start = Instant::now();
        let (published_tx, published) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while snapshots.changed().await.is_ok() {
                let snapshot = snapshots.borrow_and_update().clone();
                let at = start.elapsed().as_millis() as u64;
                if published_tx.send((at, summary(&snapshot))).is_err() {
                    return;
                }
            }
        });
        Harness {
            dir,
            start,
            events,
            published,
        }
    }

    /// At `at` ms, `name` is written whole with `text` (renamed into place, or closed).
    async fn write(&self, at: u64, name: &str, text: &str) {
        tokio::time::sleep_until(self.start + ms(at)).await;
        let path = self.dir.path().join(name);
        fs::write(&path, text).expect("the file is written");
        let changed = ChangedPath {
            path,
            directory: false,
        };
        let watched = Watched::Paths {
            paths: vec![changed],
            write: Write::Ended,
        };
        self.events.send(watched).expect("the store runs");
    }

    /// Every snapshot published until `until` ms: when (ms) and what it held.
    async fn published_until(&mut self, until: u64) -> Vec<(u64, Published)> {
        tokio::time::sleep_until(self.start + ms(until)).await;
        let mut all = Vec::new();
        while let Ok(published) = self.published.try_recv() {
            all.push(published);
        }
        all
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn web(ports: &[u16], addresses: &[&str], virtual_services: usize) -> Published {
    let addresses = addresses.iter().map(|a| a.to_string()).collect();
    Published {
        services: BTreeMap::from([(
            "web.a.svc.cluster.local".to_string(),
            (ports.to_vec(), addresses),
        )]),
        virtual_services,
    }
}

/// `web` with its Service, its endpoints and (empty at first) its routes in three files.
fn split_web(debounce_endpoints: bool) -> Harness {
    Harness::start(
        &[
            ("web-service.yaml", web_service(false)),
            ("web-endpoints.yaml", web_endpoints(&[WEB_1])),
            ("web-routes.yaml", String::new()),
        ],
        debounce_endpoints,
    )
}

#[tokio::test(start_paused = true)]
async fn a_lone_endpoint_change_is_published_at_once() {
    let mut store = split_web(false);
    let endpoints = web_endpoints(&[WEB_1, WEB_2]);
    store.write(0, "web-endpoints.yaml", &endpoints).await;
    assert_eq!(
        store.published_until(2000).await,
        [(0, web(&[80], &[WEB_1, WEB_2], 0))]
    );
}

#[tokio::test(start_paused = true)]
async fn with_debounce_endpoints_a_lone_endpoint_change_waits_for_the_window() {
    let mut store = split_web(true);
    let endpoints = web_endpoints(&[WEB_1, WEB_2]);
    store.write(0, "web-endpoints.yaml", &endpoints).await;
    assert_eq!(
        store.published_until(2000).await,
        [(100, web(&[80], &[WEB_1, WEB_2], 0))]
    );
}

#[tokio::test(start_paused = true)]
async fn a_lone_config_change_is_published_at_the_trailing_edge() {
    let mut store = split_web(false);
    store.write(0, "web-routes.yaml", WEB_VS).await;
    assert_eq!(
        store.published_until(2000).await,
        [(100, web(&[80], &[WEB_1], 1))]
    );
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_change_joins_an_open_config_burst_and_never_lets_the_config_out_alone() {
    let mut store = split_web(false);
    store.write(0, "web-routes.yaml", WEB_VS).await;
    let endpoints = web_endpoints(&[WEB_1, WEB_2]);
    store.write(10, "web-endpoints.yaml", &endpoints).await;
    // Read at 0 and held; the endpoint change moves the trailing edge to 110 ms.
    assert_eq!(
        store.published_until(2000).await,
        [(110, web(&[80], &[WEB_1, WEB_2], 1))]
    );
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_burst_is_published_twice_its_first_change_and_the_rest() {
    let mut store = split_web(false);
    let pods = [[WEB_1].as_slice(), &[WEB_1, WEB_2], &[WEB_1, WEB_2, WEB_3]];
    for n in 0..9 {
        let endpoints = web_endpoints(pods[(n as usize + 1) % 3]);
        store.write(n * 10, "web-endpoints.yaml", &endpoints).await;
    }
    // The change at 0 ms goes at once; those from 10 to 80 ms 100 ms after the last.
    assert_eq!(
        store.published_until(2000).await,
        [
            (0, web(&[80], &[WEB_1, WEB_2], 0)),
            (180, web(&[80], &[WEB_1], 0)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn endpoint_churn_is_published_once_per_max_delay() {
    let mut store = split_web(false);
    let pods = [[WEB_1].as_slice(), &[WEB_1, WEB_2]];
    // Every 60 ms for 2 s: never a quiet window after the first change.
    for n in 0..33 {
        let endpoints = web_endpoints(pods[(n as usize + 1) % 2]);
        store.write(n * 60, "web-endpoints.yaml", &endpoints).await;
    }
    // The first at once; the burst from 60 ms at its max delay (1 060 ms, the change of
    // 1 020 ms last); the burst from 1 080 ms 100 ms after its last change, at 1 920 ms.
    assert_eq!(
        store.published_until(4000).await,
        [
            (0, web(&[80], &[WEB_1, WEB_2], 0)),
            (1060, web(&[80], &[WEB_1], 0)),
            (2020, web(&[80], &[WEB_1, WEB_2], 0)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_file_changing_a_service_and_its_endpoints_waits_for_the_window() {
    let file = |second_port: bool, pods: &[&str]| {
        format!("{}{}", web_service(second_port), web_endpoints(pods))
    };
    let mut store = Harness::start(&[("web.yaml", file(false, &[WEB_1]))], false);
    store
        .write(0, "web.yaml", &file(true, &[WEB_1, WEB_2]))
        .await;
    // The same file later with its Service as it is: endpoints alone changed, so at once.
    store.write(500, "web.yaml", &file(true, &[WEB_1])).await;
    assert_eq!(
        store.published_until(2000).await,
        [
            (100, web(&[80, 81], &[WEB_1, WEB_2], 0)),
            (500, web(&[80, 81], &[WEB_1], 0)),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_after_an_endpoint_change_waits_for_the_window_whatever_it_holds() {
    let mut store = split_web(false);
    let endpoints = web_endpoints(&[WEB_1, WEB_2]);
    store.write(0, "web-endpoints.yaml", &endpoints).await;
    store.write(30, "web-routes.yaml", WEB_VS).await;
    assert_eq!(
        store.published_until(2000).await,
        [
            (0, web(&[80], &[WEB_1, WEB_2], 0)),
            (130, web(&[80], &[WEB_1, WEB_2], 1)),
        ]
    );
}
