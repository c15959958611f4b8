//! `mesh-proxy run` as users run it: the binary, a bootstrap file with static resources, a
//! request through its listener, `/healthz/ready`, and a clean exit on SIGTERM.

mod support;

use std::{net::SocketAddr, process::Command, time::Duration};

use self::support::{
    Process,
    bootstrap::{StaticBootstrap, mesh_proxy_run},
    echo_upstream, first_answer, free_port, request,
};

/// A router on `listener` that serves `/api/` from `upstream` as `/v1/`.
fn bootstrap(listener: u16, upstream: SocketAddr) -> StaticBootstrap {
    let virtual_hosts = r#"
- name: all
  domains: ["*"]
  routes:
  - match: {prefix: /api/}
    route: {cluster: backend, prefix_rewrite: /v1/}
"#;
    StaticBootstrap::router("bench")
        .http_listener("ingress", listener, virtual_hosts)
        .static_cluster("backend", upstream)
}

#[tokio::test]
async fn serves_a_static_bootstrap_and_stops_on_sigterm() {
    let upstream = echo_upstream(&[]).await;
    let (listener, health) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    let file = bootstrap(listener, upstream).write(dir.path(), "bootstrap.yaml");
    let mut proxy = Process::spawn(
        mesh_proxy_run(&file)
            .arg("--drain-time=1s")
            .arg(format!("--health-address=127.0.0.1:{health}"))
            // Not Istio's 0.0.0.0:15090: tests listen on loopback, and the e2e mesh's
            // sidecars bind 15090 on loopback addresses of their own.
            .arg("--metrics-address=none"),
    );

    let ready = first_answer(health, "/healthz/ready", Duration::from_secs(20)).await;
    assert_eq!(ready.status, 200);

    let response = request(listener, "GET", "/api/books", &[]).await.unwrap();
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, "path=/v1/books")
    );
    let missing = request(listener, "GET", "/other", &[]).await.unwrap();
    assert_eq!(missing.status, 404);

    let pid = proxy.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let mut stderr = proxy.0.stderr.take().unwrap();
    let (status, log) = tokio::task::spawn_blocking(move || {
        let status = proxy.0.wait().unwrap();
        let mut log = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut log).unwrap();
        (status, log)
    })
    .await
    .unwrap();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("draining"), "{log}");
}

#[test]
fn a_bad_bootstrap_is_refused_with_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "static_resources:\n  clusters:\n  - name: c\n    type: STATIC\n    lb_policy: LOAD_BALANCING_POLICY_CONFIG\n",
    )
    .unwrap();
    let output = mesh_proxy_run(&file)
        .args(["--health-address=none", "--metrics-address=none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "{stderr}");
    assert!(stderr.contains("lb_policy"), "{stderr}");
}
