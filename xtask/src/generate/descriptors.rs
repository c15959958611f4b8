//! The Envoy descriptor set behind mesh-xds's protobuf JSON mapping.
//!
//! envoy-types ships Envoy's `.proto` sources but no descriptors and no serde, so the JSON of
//! bootstrap files, config dumps and golden files is driven by a descriptor pool that we compile
//! here, with protox, from the very protos of the envoy-types version in Cargo.lock. Only the
//! files mesh.rs reads or writes are opened (with everything they import): the full API is
//! several times larger and mostly extensions we never configure.

use std::{
    ffi::OsString,
    fs, io,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, bail};
use protox::prost::Message as _;

/// Where the descriptor set goes, relative to the workspace root.
pub const OUTPUT: &str = "xds/descriptors/envoy.bin";

/// The proto roots inside envoy-types' `proto/` directory, as Envoy's imports expect them.
const INCLUDES: &[&str] = &[
    "data-plane-api",
    "xds",
    "protoc-gen-validate",
    "googleapis",
    "cel-spec/proto",
    "opentelemetry-proto",
    "client_model",
    "ratelimit/api",
];

/// The Envoy files whose messages mesh.rs parses or prints; their imports come along.
pub const FILES: &[&str] = &[
    "envoy/config/bootstrap/v3/bootstrap.proto",
    "envoy/service/discovery/v3/ads.proto",
    "envoy/service/discovery/v3/discovery.proto",
    "envoy/admin/v3/config_dump.proto",
    "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
    "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
    "envoy/extensions/filters/network/sni_cluster/v3/sni_cluster.proto",
    "envoy/extensions/filters/http/router/v3/router.proto",
    "envoy/extensions/filters/http/fault/v3/fault.proto",
    "envoy/extensions/filters/http/cors/v3/cors.proto",
    "envoy/extensions/filters/http/rbac/v3/rbac.proto",
    "envoy/extensions/filters/listener/original_dst/v3/original_dst.proto",
    "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
    "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto",
    "envoy/extensions/transport_sockets/tls/v3/tls.proto",
    "envoy/extensions/transport_sockets/tls/v3/secret.proto",
    "envoy/extensions/transport_sockets/tls/v3/cert.proto",
    "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
    "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto",
    "envoy/extensions/access_loggers/stream/v3/stream.proto",
    "envoy/extensions/access_loggers/file/v3/file.proto",
    "envoy/config/trace/v3/opentelemetry.proto",
];

/// Writes the descriptor set under `root` if it differs from the generated one.
pub fn run(root: &Path) -> anyhow::Result<()> {
    let generated = render()?;
    let path = root.join(OUTPUT);
    if read(&path)?.as_deref() == Some(generated.as_slice()) {
        println!("{OUTPUT} is up to date");
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    fs::write(&path, &generated).with_context(|| format!("writing {}", path.display()))?;
    println!("updated {OUTPUT} ({} bytes)", generated.len());
    Ok(())
}

/// Fails if the descriptor set under `root` is missing or differs from the generated one.
pub fn check(root: &Path) -> anyhow::Result<()> {
    let generated = render()?;
    match read(&root.join(OUTPUT))? {
        Some(on_disk) if on_disk == generated => {
            println!("{OUTPUT} is up to date");
            Ok(())
        }
        Some(_) => bail!("{OUTPUT} is stale: run `cargo xtask gen` and commit the result"),
        None => bail!("{OUTPUT} is missing: run `cargo xtask gen` and commit the result"),
    }
}

/// The encoded descriptor set of [`FILES`], compiled from the envoy-types in this workspace's
/// Cargo.lock, wherever the output goes.
pub fn render() -> anyhow::Result<Vec<u8>> {
    compile(&envoy_types_dir()?.join("proto"))
}

/// Compiles [`FILES`] against the proto roots under `proto_dir`, with imports and without
/// source info. protox orders files topologically in the order they were opened, so the output
/// is the same from run to run.
pub fn compile(proto_dir: &Path) -> anyhow::Result<Vec<u8>> {
    let includes: Vec<PathBuf> = INCLUDES.iter().map(|dir| proto_dir.join(dir)).collect();
    let mut compiler = protox::Compiler::new(&includes)
        .with_context(|| format!("setting up protox on {}", proto_dir.display()))?;
    compiler.include_imports(true).include_source_info(false);
    for file in FILES {
        compiler
            .open_file(file)
            .with_context(|| format!("compiling {file}"))?;
    }
    // The prost types drop extension options (validation rules, UDPA annotations): nothing in
    // the JSON mapping reads them, and they would double the file.
    Ok(compiler.file_descriptor_set().encode_to_vec())
}

/// The package directory of envoy-types, from `cargo metadata` of the workspace xtask belongs to.
fn envoy_types_dir() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("parsing cargo metadata's output")?;
    package_dir(&metadata, "envoy-types")
}

/// The directory of the manifest of the package called `name` in `cargo metadata`'s output.
pub fn package_dir(metadata: &serde_json::Value, name: &str) -> anyhow::Result<PathBuf> {
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata's output has no packages")?;
    let manifest = packages
        .iter()
        .find(|package| package["name"] == name)
        .and_then(|package| package["manifest_path"].as_str())
        .with_context(|| format!("cargo metadata lists no package {name}"))?;
    Path::new(manifest)
        .parent()
        .map(Path::to_path_buf)
        .with_context(|| format!("the manifest of {name} has no directory: {manifest}"))
}

/// The bytes of `path`, or `None` if there is no such file.
fn read(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn package_dir_is_the_directory_of_the_manifest() {
        let metadata = json!({"packages": [
            {"name": "prost", "manifest_path": "/registry/prost-0.14.4/Cargo.toml"},
            {"name": "envoy-types", "manifest_path": "/registry/envoy-types-0.7.7/Cargo.toml"},
        ]});
        assert_eq!(
            package_dir(&metadata, "envoy-types").unwrap(),
            Path::new("/registry/envoy-types-0.7.7")
        );
    }

    #[test]
    fn package_dir_names_a_missing_package() {
        let metadata = json!({"packages": []});
        assert_eq!(
            package_dir(&metadata, "envoy-types")
                .unwrap_err()
                .to_string(),
            "cargo metadata lists no package envoy-types"
        );
    }
}
