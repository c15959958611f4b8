//! Bookinfo meshed on the local substrate (network namespaces, real iptables capture, the
//! control plane in file mode, a sidecar per workload and the ingress gateway): the page
//! renders through the gateway, and Istio routing rules applied live change which reviews
//! version answers — as in Istio's request-routing task.
//!
//! Needs root (it creates network namespaces); CI runs it as root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::{Path, PathBuf},
    time::Duration,
};

use mesh_testing::{Patience, external::skip_without};
use meshctl::local::{
    self, UpOptions,
    cli::{apply_config, exec},
    spec::LocalMesh,
    state::StateDir,
};

const GATEWAY: &str = "127.0.0.1:8080";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The directory cargo put the workspace's binaries in, beside this test's own `deps/`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_owned()
}

/// A blocking HTTP/1.1 request through the gateway; returns status and body.
fn get(path: &str, cookie: Option<&str>) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(GATEWAY).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let cookie = cookie
        .map(|c| format!("cookie: {c}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: bookinfo\r\n{cookie}connection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| e.to_string())?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status in {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Which reviews version drew a page: v1 has no stars, v2 black ones, v3 red ones.
fn reviews_version(page: &str) -> &'static str {
    if page.contains("<font color=\"red\">") {
        "v3"
    } else if page.contains("<font color=\"black\">") {
        "v2"
    } else {
        "v1"
    }
}

/// Waits until `pages` consecutive product pages all come from `version`.
async fn wait_for_reviews(version: &str, cookie: Option<&str>, pages: usize) {
    Patience::new(Duration::from_secs(60))
        .eventually(|| async {
            for _ in 0..pages {
                let (status, page) = get("/productpage", cookie)?;
                let seen = reviews_version(&page);
                if status != 200 || seen != version {
                    return Err(format!("status {status}, reviews {seen}"));
                }
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("reviews never settled on {version}: {e:?}"));
}

/// Logs in as `user` through the gateway and returns the session cookie.
fn login(user: &str) -> String {
    let mut stream = TcpStream::connect(GATEWAY).unwrap();
    let form = format!("username={user}&passwd=x");
    let request = format!(
        "POST /login HTTP/1.1\r\nhost: bookinfo\r\ncontent-type: \
         application/x-www-form-urlencoded\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let cookie = response
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        })
        .map(|(_, v)| v.trim().split(';').next().unwrap_or("").to_owned())
        .unwrap_or_else(|| panic!("no session cookie in {response:?}"));
    assert!(!cookie.is_empty(), "{response}");
    cookie
}

#[tokio::test(flavor = "multi_thread")]
async fn bookinfo_through_the_gateway_follows_routing_rules() {
    if !local::is_root() {
        skip_without(
            "root",
            "run the e2e suite as root: it creates network namespaces",
        );
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let mesh = LocalMesh::read(&[repo().join("samples/bookinfo/local.yaml")]).unwrap();
    let mut options = UpOptions::new(state.path());
    options.bin_dir = Some(bin_dir());
    let mut progress = Vec::new();
    let running = local::up(&mesh, &options, &mut progress)
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&progress)));
    let dir = StateDir::new(state.path());

    // The page renders through the gateway, every backend reached through two sidecars.
    let page = Patience::new(Duration::from_secs(60))
        .eventually(|| async {
            match get("/productpage", None)? {
                (200, page) if !page.contains("Sorry") => Ok(page),
                (status, page) => Err(format!("{status}: {page}")),
            }
        })
        .await
        .unwrap();
    assert!(
        page.contains("<title>Simple Bookstore App</title>"),
        "{page}"
    );
    assert!(page.contains("William Shakespeare"), "{page}");

    // A sidecar-to-sidecar call from inside a pod, as `meshctl local exec` runs it.
    let details = exec(
        running.state(),
        "productpage-v1",
        &[
            "bash".into(),
            "-c".into(),
            "exec 3<>/dev/tcp/details/9080".into(),
        ],
    )
    .unwrap();
    assert_eq!(
        details, 0,
        "details:9080 is not reachable from productpage's pod"
    );

    // Istio's request-routing task: everything to v1, then jason to v2.
    let networking = repo().join("samples/bookinfo/networking");
    apply_config(&dir, &networking.join("destination-rule-all.yaml")).unwrap();
    apply_config(&dir, &networking.join("virtual-service-all-v1.yaml")).unwrap();
    wait_for_reviews("v1", None, 6).await;

    apply_config(
        &dir,
        &networking.join("virtual-service-reviews-test-v2.yaml"),
    )
    .unwrap();
    let jason = login("jason");
    wait_for_reviews("v2", Some(&jason), 6).await;
    wait_for_reviews("v1", None, 6).await;

    let id = running.state().plan.id.clone();
    running.down().unwrap();
    let namespaces = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let namespaces = String::from_utf8_lossy(&namespaces.stdout);
    assert!(!namespaces.contains(&format!("mesh-{id}-")), "{namespaces}");
}
