//! `cargo xtask bench --controlplane`: the generated mesh as the control plane's own file store
//! reads it, the bookkeeping of a phase, the report's targets, and a tiny run end to end
//! against the debug `mesh-controlplane`.

// The helpers below are test code too: a failure should panic.
#![allow(clippy::unwrap_used)]

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use mesh_controlplane::{
    mesh_config::MeshConfig,
    model::Snapshot,
    store::{FileStore, FileStoreConfig},
};
use mesh_testing::external::skip_without;
use mesh_xds::ResourceType;
use tokio::{sync::watch, time::Instant};
use xtask::bench::controlplane::{
    Options, Plan, Size,
    figures::Window,
    mesh::{Mesh, MeshSize},
    report::{self, Memory, Report, Run, Settings},
    sidecar::{Event, Protocol},
};

/// Far longer than reading a small mesh takes, even on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// (services, endpoints) of a snapshot.
fn counts(snapshot: &Snapshot) -> (usize, usize) {
    let services = snapshot.services();
    let endpoints = services.iter().map(|s| s.endpoints.len()).sum();
    (services.len(), endpoints)
}

async fn wait_for_counts(
    snapshots: &mut watch::Receiver<Arc<Snapshot>>,
    want: (usize, usize),
) -> Arc<Snapshot> {
    let found = tokio::time::timeout(PATIENCE, snapshots.wait_for(|s| counts(s) == want))
        .await
        .map(|found| found.map(|snapshot| snapshot.clone()));
    match found {
        Ok(Ok(snapshot)) => snapshot,
        _ => panic!(
            "no snapshot with {want:?}; last: {:?}",
            counts(&snapshots.borrow())
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_reads_the_generated_mesh_and_its_changes() {
    let dir = tempfile::tempdir().unwrap();
    let size = MeshSize {
        services: 30,
        endpoints: 301,
        namespaces: 4,
    };
    let mut mesh = Mesh::generate(dir.path(), size).unwrap();
    assert_eq!(mesh.endpoints(), 301);
    let store = FileStore::start(
        FileStoreConfig {
            debounce: Duration::from_millis(20),
            ..FileStoreConfig::new(vec![dir.path().to_path_buf()])
        },
        MeshConfig::default(),
    )
    .unwrap();
    assert_eq!(store.errors().len(), 0, "{:?}", store.errors());
    let mut snapshots = store.snapshots();
    let snapshot = wait_for_counts(&mut snapshots, (30, 301)).await;
    // 301 over 30: the first service takes the one left over.
    let first = snapshot
        .service("svc-00000.bench-0.svc.cluster.local", "bench-0")
        .unwrap();
    assert_eq!(first.endpoints.len(), 11);
    assert_eq!(first.ports.len(), 1);
    assert_eq!(
        (first.ports[0].name.as_str(), first.ports[0].number),
        ("http", 9080)
    );
    let last = snapshot
        .service("svc-00029.bench-1.svc.cluster.local", "bench-1")
        .unwrap();
    assert_eq!(last.endpoints.len(), 10);

    let (index, added) = mesh.add_endpoint(5).unwrap();
    assert_eq!(index, 5);
    assert_eq!(
        added.cluster,
        "outbound|9080||svc-00005.bench-1.svc.cluster.local"
    );
    // 301 addresses were handed out before it.
    assert_eq!(added.address, Ipv4Addr::new(198, 18, 1, 46));
    mesh.save_service(index).unwrap();
    let snapshot = wait_for_counts(&mut snapshots, (30, 302)).await;
    let changed = snapshot
        .service("svc-00005.bench-1.svc.cluster.local", "bench-1")
        .unwrap();
    assert_eq!(changed.endpoints.len(), 11);
    assert_eq!(store.errors().len(), 0, "{:?}", store.errors());
}

#[test]
fn a_mesh_too_big_for_the_test_range_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let error = Mesh::generate(
        dir.path(),
        MeshSize {
            services: 2,
            endpoints: 70_000,
            namespaces: 1,
        },
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "MeshSize { services: 2, endpoints: 70000, namespaces: 1 } does not fit the \
         198.18.0.0/15 test range"
    );
}

#[test]
fn a_window_adds_up_latencies_bytes_and_missing_acks() {
    // Sidecar 0 speaks delta, 1 state of the world, 2 delta.
    let mut window = Window::new(vec![Protocol::Delta, Protocol::Sotw, Protocol::Delta]).unwrap();
    let t0 = Instant::now();
    window.written(0, t0);
    window.written(1, t0 + Duration::from_millis(500));
    let response = |sidecar, bytes, version: &str| Event::Response {
        sidecar,
        kind: ResourceType::ClusterLoadAssignment,
        received: t0,
        bytes,
        version: version.to_string(),
    };
    let applied = |sidecar, change, after_ms| Event::Applied {
        sidecar,
        change,
        acked: t0 + Duration::from_millis(after_ms),
    };
    window.record(response(0, 100, "v1"));
    window.record(response(1, 4_000, "v1"));
    window.record(response(2, 100, "v1"));
    window.record(applied(0, 0, 110));
    window.record(applied(1, 0, 150));
    window.record(applied(2, 0, 130));
    // Change 1 reaches two sidecars of three.
    window.record(response(0, 120, "v2"));
    window.record(response(1, 4_100, "v2"));
    window.record(applied(0, 1, 620));
    window.record(applied(1, 1, 700));
    window.record(Event::Failed {
        sidecar: 2,
        error: "reading the stream: broken pipe".to_string(),
    });
    assert_eq!((window.acked(0), window.acked(1)), (3, 2));

    let phase = window.phase(2, Duration::from_secs(1), Some(30.0)).unwrap();
    assert_eq!(phase.changes, 2);
    assert_eq!(phase.applied, 5);
    assert_eq!(phase.missing, 1);
    assert_eq!(phase.incomplete_changes, 1);
    assert_eq!(phase.eds_pushes, 2);
    assert_eq!(phase.cpu_ms_per_change, Some(15.0));
    assert_eq!(phase.cpu_ms_per_push, Some(15.0));
    assert_eq!(phase.duration_ms, 1000);
    // Only change 0 reached everyone: its last ACK came 150 ms after the write.
    assert_eq!(phase.all_acked.count, 1);
    assert_eq!(phase.all_acked.max_us, 150_015);
    let groups: Vec<(&str, usize, u64, f64, f64)> = phase
        .groups
        .iter()
        .map(|g| {
            (
                g.group.as_str(),
                g.proxies,
                g.latency.count,
                g.bytes_per_change,
                g.responses_per_change,
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("all", 3, 5, 4_210.0, 2.5),
            ("sotw", 1, 2, 4_050.0, 1.0),
            ("delta", 2, 3, 160.0, 1.5),
        ]
    );
    // Delta: 110, 130 and 120 ms (change 1 written at 500 ms, ACKed at 620 ms).
    let delta = &phase.groups[2].latency;
    assert_eq!((delta.p50_us, delta.max_us), (120_063, 130_047));
    assert_eq!(window.errors(), ["1 × reading the stream: broken pipe"]);
}

fn report_with(run: Run, quick: bool) -> Report {
    Report {
        settings: Settings {
            quick,
            debounce_ms: 100,
            changes: 20,
            churn_rate: 40,
            churn_seconds: 30.0,
            placement: "not pinned (--no-pin)".to_string(),
            binary: "mesh-controlplane".to_string(),
        },
        runs: vec![run],
    }
}

#[test]
fn memory_per_proxy_and_the_targets() {
    let memory = Memory::new(20_000, 70_000, 1_000);
    assert_eq!(memory.kib_per_proxy, Some(50.0));
    assert_eq!(Memory::new(20_000, 10_000, 0).kib_per_proxy, None);

    let size = Size {
        services: 200,
        endpoints: 2_000,
        proxies: 100,
    };
    let mut run = Run::failed(size, "x".to_string());
    run.error = None;
    run.memory = Memory::new(20_000, 35_000, 100);
    run.sync.synced = 100;
    let targets = report::targets(&report_with(run, true));
    let shown: Vec<(String, String)> = targets
        .iter()
        .map(|t| (t.measured.clone(), t.status.to_string()))
        .collect();
    assert_eq!(
        shown,
        [
            (
                String::new(),
                "not measured: needs the full run (5 000 services, 1 000 sidecars); this run \
                 has none"
                    .to_string()
            ),
            (
                "150.0 KiB (200 services, 100 sidecars)".to_string(),
                "**not met**".to_string()
            ),
        ]
    );
}

/// The directory of the binaries built beside this test: target/<profile>.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_owned()
}

#[test]
fn a_tiny_run_end_to_end() {
    let binary = bin_dir().join("mesh-controlplane");
    if !binary.is_file() {
        skip_without(
            "the mesh-controlplane binary",
            "build it with `cargo build -p mesh-controlplane` (`cargo nextest run --workspace` \
             builds it)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan {
        sizes: vec![Size {
            services: 10,
            endpoints: 30,
            proxies: 5,
        }],
        changes: 2,
        churn_rate: 20,
        churn: Duration::from_millis(200),
        debounce: Duration::from_millis(20),
        sync_patience: Duration::from_secs(60),
        change_patience: Duration::from_secs(30),
        ready_patience: Duration::from_secs(60),
    };
    let options = Options {
        binary,
        dir: dir.path().to_path_buf(),
        cpu: None,
        placement: "not pinned".to_string(),
    };
    let report = xtask::bench::controlplane::measure(&plan, &options, true).unwrap();
    assert_eq!(report.runs.len(), 1);
    let run = &report.runs[0];
    assert_eq!(run.error, None);
    assert_eq!(
        (run.sync.proxies, run.sync.synced, run.sync.failed),
        (5, 5, 0)
    );
    // Per sidecar at least clusters, endpoints, listeners and routes.
    assert!(run.sync.traffic.responses >= 20, "{:?}", run.sync);
    assert!(run.memory.kib_per_proxy.is_some());
    for (phase, changes) in [(&run.single, 2), (&run.churn, 4)] {
        let phase = phase.as_ref().unwrap();
        assert_eq!(phase.changes, changes);
        assert_eq!(phase.applied, 5 * changes as u64);
        assert_eq!((phase.missing, phase.incomplete_changes), (0, 0));
        assert_eq!(phase.all_acked.count, changes as u64);
        let groups: Vec<(&str, usize, u64)> = phase
            .groups
            .iter()
            .map(|g| (g.group.as_str(), g.proxies, g.latency.count))
            .collect();
        assert_eq!(
            groups,
            [
                ("all", 5, 5 * changes as u64),
                ("sotw", 2, 2 * changes as u64),
                ("delta", 3, 3 * changes as u64),
            ]
        );
        // Every sidecar was pushed endpoints at least once (a churn folds several changes into
        // one push).
        let responses = phase.groups[0].responses_per_change * changes as f64;
        assert!(responses >= 5.0, "{phase:?}");
        assert!(
            phase.eds_pushes >= 1 && phase.eds_pushes <= changes,
            "{phase:?}"
        );
        assert!(phase.groups[0].bytes_per_change > 0.0, "{phase:?}");
        assert!(phase.cpu_ms_per_change.is_some());
    }
    let markdown = report::markdown(&report);
    assert!(
        markdown.contains("## 10 services, 30 endpoints, 5 sidecars"),
        "{markdown}"
    );
    assert!(
        markdown.contains("Initial sync: 5 of 5 sidecars synced in"),
        "{markdown}"
    );
}

#[test]
fn the_plans_of_the_quick_and_the_full_run() {
    let quick = Plan::new(true, None);
    let sizes: Vec<(usize, usize, usize)> = quick
        .sizes
        .iter()
        .map(|s| (s.services, s.endpoints, s.proxies))
        .collect();
    assert_eq!(sizes, [(200, 2_000, 100)]);
    assert_eq!((quick.changes, quick.churn_changes()), (10, 200));
    assert_eq!(quick.debounce, Duration::from_millis(100));
    let full = Plan::new(false, Some(10));
    let sizes: Vec<(usize, usize, usize)> = full
        .sizes
        .iter()
        .map(|s| (s.services, s.endpoints, s.proxies))
        .collect();
    assert_eq!(sizes, [(1_000, 10_000, 1_000), (5_000, 50_000, 1_000)]);
    assert_eq!((full.changes, full.churn_changes()), (20, 400));
}

#[test]
fn services_and_sidecars_replace_the_planned_sizes() {
    let sizes = |plan: Plan| -> Vec<(usize, usize, usize)> {
        plan.sizes
            .iter()
            .map(|s| (s.services, s.endpoints, s.proxies))
            .collect()
    };
    let full = Plan::new(false, None);
    assert_eq!(
        sizes(full.clone().resized(Some(5_000), None)),
        [(5_000, 50_000, 1_000)]
    );
    assert_eq!(
        sizes(full.clone().resized(None, Some(300))),
        [(1_000, 10_000, 300), (5_000, 50_000, 300)]
    );
    let quick = Plan::new(true, None).resized(Some(1_000), Some(50));
    assert_eq!(sizes(quick.clone()), [(1_000, 10_000, 50)]);
    assert_eq!(quick.changes, 10);
    assert_eq!(full.clone().resized(None, None), full);
}

#[test]
fn the_controlplane_flag_refuses_the_proxy_bench_flags() {
    use clap::Parser as _;
    use xtask::{Cli, Command};

    let parsed = Cli::try_parse_from([
        "cargo xtask",
        "bench",
        "--controlplane",
        "--quick",
        "--controlplane-binary",
        "cp",
    ])
    .unwrap();
    let Command::Bench(args) = parsed.command else {
        panic!("not the bench: {:?}", parsed.command);
    };
    assert!(args.controlplane && args.quick);
    assert_eq!(args.controlplane_binary, Some(PathBuf::from("cp")));
    for flag in [
        ["--rounds", "2"],
        ["--proxy-binary", "p"],
        ["--envoy-binary", "e"],
    ] {
        let refused =
            Cli::try_parse_from(["cargo xtask", "bench", "--controlplane", flag[0], flag[1]]);
        assert_eq!(
            refused.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict,
            "{flag:?}"
        );
    }
    let alone = Cli::try_parse_from(["cargo xtask", "bench", "--controlplane-binary", "cp"]);
    assert_eq!(
        alone.unwrap_err().kind(),
        clap::error::ErrorKind::MissingRequiredArgument
    );
}
