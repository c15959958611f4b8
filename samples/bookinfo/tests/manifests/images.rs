//! The Dockerfiles: each builds, from the workspace root, the binary of the workspace crate it
//! sits in, and runs it on a base with the same C library as the builder, as the user the
//! manifests expect.

use std::path::Path;

use mesh_common::well_known::PROXY_UID;

use crate::{read, workspace_root};

/// Each image: its Dockerfile, the package it builds, its runtime base and its user.
const IMAGES: &[(&str, &str, &str, &str)] = &[
    (
        "samples/bookinfo/Dockerfile",
        "bookinfo",
        "gcr.io/distroless/cc-debian12:nonroot",
        "65532:65532",
    ),
    (
        "proxy/Dockerfile",
        "mesh-proxy",
        "debian:bookworm-slim",
        "1337:1337",
    ),
    (
        "controlplane/Dockerfile",
        "mesh-controlplane",
        "gcr.io/distroless/cc-debian12:nonroot",
        "65532:65532",
    ),
];

/// A Dockerfile's instructions, continuation lines joined and comments dropped:
/// `(instruction, arguments)`.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    let split = logical.into_iter().map(|line| {
        let (instruction, args) = line.split_once(' ').unwrap();
        (instruction.to_string(), args.trim().to_string())
    });
    split.collect()
}

/// The arguments of every instruction of one name.
fn all<'a>(instructions: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    let named = instructions.iter().filter(|(i, _)| i == name);
    named.map(|(_, args)| args.as_str()).collect()
}

/// The word after `flag` in a command line.
fn after<'a>(command: &'a str, flag: &str) -> Option<&'a str> {
    let mut words = command.split_whitespace();
    words.by_ref().find(|w| *w == flag)?;
    words.next()
}

/// The string values of a Cargo manifest, as `(section, key, value)`; arrays spanning lines
/// (the workspace's `members`) give one entry per element.
fn toml_strings(text: &str) -> Vec<(String, String, String)> {
    let mut entries = Vec::new();
    let mut section = String::new();
    let mut array_key = None;
    for line in text.lines().map(str::trim) {
        if let Some(key) = &array_key {
            if line.starts_with(']') {
                array_key = None;
            } else if let Some(value) = line.trim_end_matches(',').strip_prefix('"') {
                let value = value.trim_end_matches('"').to_string();
                entries.push((section.clone(), String::clone(key), value));
            }
        } else if line.starts_with('[') {
            section = line.to_string();
        } else if let Some((key, value)) = line.split_once(" = ") {
            if value == "[" {
                array_key = Some(key.to_string());
            } else if let Some(value) = value.strip_prefix('"') {
                let value = value.trim_end_matches('"').to_string();
                entries.push((section.clone(), key.to_string(), value));
            }
        }
    }
    entries
}

fn values<'a>(entries: &'a [(String, String, String)], section: &str, key: &str) -> Vec<&'a str> {
    let matching = entries.iter().filter(|(s, k, _)| s == section && k == key);
    matching.map(|(_, _, v)| v.as_str()).collect()
}

#[test]
fn each_image_builds_the_workspace_crate_it_sits_in() {
    let root = workspace_root();
    let workspace = toml_strings(&read(&root.join("Cargo.toml")));
    let members = values(&workspace, "[workspace]", "members");
    assert!(members.contains(&"samples/bookinfo"), "{members:?}");

    for (dockerfile, package, _, _) in IMAGES {
        let crate_dir = Path::new(dockerfile).parent().unwrap().to_str().unwrap();
        assert!(members.contains(&crate_dir), "{dockerfile}: not a member");
        let manifest = toml_strings(&read(&root.join(crate_dir).join("Cargo.toml")));
        assert_eq!(values(&manifest, "[package]", "name"), [*package]);

        let instructions = instructions(&read(&root.join(dockerfile)));
        let runs = all(&instructions, "RUN");
        let build: Vec<_> = runs.iter().filter(|r| r.contains("cargo build")).collect();
        let [build] = build[..] else {
            panic!("{dockerfile}: one cargo build, found {build:?}");
        };
        let cargo_build = &build[build.find("cargo build").unwrap()..];
        assert_eq!(after(cargo_build, "-p"), Some(*package), "{dockerfile}");
        for flag in ["--release", "--locked"] {
            assert!(
                cargo_build.split_whitespace().any(|w| w == flag),
                "{dockerfile}"
            );
        }
        // The binary is the package's own: declared, or the default one of `src/main.rs`.
        let bin = after(cargo_build, "--bin").unwrap();
        let declared = values(&manifest, "[[bin]]", "name");
        let default = bin == *package && root.join(crate_dir).join("src/main.rs").is_file();
        assert!(
            declared.contains(&bin) || default,
            "{dockerfile}: no binary {bin}"
        );

        let built = format!("install -D target/release/{bin} /out/{bin}");
        assert!(build.contains(&built), "{dockerfile}: {build}");
        let copied = format!("--from=build /out/{bin} /usr/local/bin/{bin}");
        assert_eq!(all(&instructions, "COPY"), [". .", &copied], "{dockerfile}");
        let entrypoint = format!(r#"["/usr/local/bin/{bin}"]"#);
        assert_eq!(
            all(&instructions, "ENTRYPOINT"),
            [entrypoint],
            "{dockerfile}"
        );
        assert_eq!(all(&instructions, "WORKDIR"), ["/src"], "{dockerfile}");
    }
}

#[test]
fn each_image_runs_on_the_builders_debian_as_its_user() {
    let root = workspace_root();
    for (dockerfile, _, base, user) in IMAGES {
        let instructions = instructions(&read(&root.join(dockerfile)));
        // glibc is linked dynamically: the runtime base must be the builder's Debian release
        // (bookworm is Debian 12), or the binary may not start.
        let stages = all(&instructions, "FROM");
        assert_eq!(stages, ["rust:1-bookworm AS build", base], "{dockerfile}");
        assert!(
            base.contains("debian12") || base.contains("bookworm"),
            "{base}"
        );
        assert_eq!(all(&instructions, "USER"), [*user], "{dockerfile}");
        let uid: u32 = user.split(':').next().unwrap().parse().unwrap();
        assert_ne!(uid, 0, "{dockerfile}: runs as root");
        // Only the proxy may run as the uid whose traffic the capture rules let through.
        assert_eq!(uid == PROXY_UID, *dockerfile == "proxy/Dockerfile");
    }
}

/// `mesh-proxy init` runs `iptables` and `iptables-restore`, and the proxy runs as the user the
/// rules exempt: both must be in the image.
#[test]
fn the_proxy_image_has_iptables_and_the_proxy_user() {
    let instructions = instructions(&read(&workspace_root().join("proxy/Dockerfile")));
    let runs = all(&instructions, "RUN");
    let setup = runs.iter().find(|r| r.contains("apt-get install")).unwrap();
    let install = &setup[setup.find("apt-get install").unwrap()..];
    let install = &install[..install.find("&&").unwrap()];
    let packages: Vec<_> = install
        .split_whitespace()
        .skip(2)
        .filter(|w| !w.starts_with('-'))
        .collect();
    assert_eq!(packages, ["iptables"]);
    let uid = PROXY_UID.to_string();
    assert_eq!(after(setup, "--gid"), Some(&*uid), "{setup}");
    let useradd = &setup[setup.find("useradd").unwrap()..];
    assert_eq!(after(useradd, "--uid"), Some(&*uid), "{setup}");
}

/// The build context is the repository root: build output and history stay out of it, and
/// nothing a build reads is left out.
#[test]
fn the_build_context_leaves_out_build_output_only() {
    let text = read(&workspace_root().join(".dockerignore"));
    let patterns: Vec<_> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        patterns,
        [
            "target/",
            "**/fuzz/target/",
            "**/fuzz/corpus/",
            "**/fuzz/artifacts/",
            ".git/"
        ]
    );
}
