//! `mesh_controlplane_config_files_parsed_total` on `/metrics`: the file store's count of files
//! read, which grows by exactly the files a change touched.

// The helpers below are test code too: a failure should panic.
#![allow(clippy::unwrap_used)]

mod ads_sidecar;
mod support;

use std::{fs, net::SocketAddr, time::Duration};

use mesh_controlplane::server::{ControlPlane, Source};
use mesh_testing::eventually;

use self::{
    ads_sidecar::get,
    support::{RATINGS_TIMEOUT as RATINGS, config, save},
};

const METRIC: &str = "mesh_controlplane_config_files_parsed_total";

/// The counter's value in the exposition, or `None` when it is not there.
async fn files_parsed(monitoring: SocketAddr) -> Option<u64> {
    let (code, body) = get(monitoring, "/metrics").await;
    assert_eq!(code, 200, "{body}");
    body.lines()
        .filter_map(|line| line.strip_prefix(METRIC)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
        .next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_the_files_each_change_rereads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in ["a.yaml", "b.yaml", "c.yaml"] {
        fs::write(root.join(name), "").unwrap();
    }
    let source = Source::ConfigDirs(vec![root.to_path_buf()]);
    // Long enough that the events of one save land in one reread.
    let debounce = Duration::from_millis(200);
    let control_plane = ControlPlane::start(config(source, debounce)).await.unwrap();
    let monitoring = control_plane.monitoring_address();
    // The first read parsed the three files.
    assert_eq!(files_parsed(monitoring).await, Some(3));
    let (_, body) = get(monitoring, "/metrics").await;
    assert!(
        body.lines()
            .any(|line| line == format!("# TYPE {METRIC} counter")),
        "{body}"
    );

    // An edit rereads the one file it touched, not the directory.
    save(root, "b.yaml", RATINGS);
    let after_edit = eventually(|| async { files_parsed(monitoring).await.filter(|&n| n > 3) })
        .await
        .unwrap();
    assert_eq!(after_edit, 4);
    // A new file is one more.
    save(
        root,
        "d.yaml",
        RATINGS.replace("ratings", "details").as_str(),
    );
    let after_new = eventually(|| async { files_parsed(monitoring).await.filter(|&n| n > 4) })
        .await
        .unwrap();
    assert_eq!(after_new, 5);
    control_plane.stop().await.unwrap();
}
