//! The `bootstrap` fuzz target: any file contents, read as the YAML and as the JSON bootstrap.

use std::path::Path;

use super::Verdict;
use crate::bootstrap::{Bootstrap, BootstrapError};

/// The names the input is parsed under: the extension picks the format.
const FILES: [&str; 2] = ["bootstrap.yaml", "bootstrap.json"];

/// Parses `data` as a bootstrap file, in both formats (YAML, then JSON), and says how each
/// went. Panics only when a guarantee breaks:
/// parsing panics, a refusal does not say which file and what is wrong, or an accepted file
/// is inconsistent (ADS without a node id or a target, resources that are not in the file).
pub fn bootstrap(data: &[u8]) -> [Verdict; 2] {
    // A file that is not UTF-8 never reaches the parser (reading it fails first); replacing
    // the bad bytes keeps the rest of the input worth parsing.
    let text = String::from_utf8_lossy(data);
    FILES.map(|file| match Bootstrap::parse(&text, Path::new(file)) {
        Ok(bootstrap) => {
            check_accepted(&bootstrap);
            Verdict::Accepted
        }
        Err(error) => {
            check_refusal(&error, file, &text);
            match error {
                BootstrapError::Parse { .. } => Verdict::Malformed,
                _ => Verdict::Refused,
            }
        }
    })
}

fn check_accepted(bootstrap: &Bootstrap) {
    let statics = bootstrap.raw.static_resources.clone().unwrap_or_default();
    if let Some(ads) = &bootstrap.ads {
        assert!(!bootstrap.node.id.is_empty(), "ADS without node.id");
        assert!(!ads.targets.is_empty(), "ADS cluster without endpoints");
        assert!(
            statics.clusters.iter().any(|c| c.name == ads.cluster),
            "ADS cluster {:?} is not a static cluster",
            ads.cluster
        );
    }
    if bootstrap.admin.is_some() {
        assert!(
            bootstrap.raw.admin.is_some(),
            "an admin address from nowhere"
        );
    }
    let snapshot = &bootstrap.static_snapshot;
    for name in snapshot.listeners.keys() {
        assert!(
            statics.listeners.iter().any(|l| &l.name == name),
            "listener {name:?} is not in the file"
        );
    }
    for name in snapshot.clusters.keys() {
        assert!(
            statics.clusters.iter().any(|c| &c.name == name),
            "cluster {name:?} is not in the file"
        );
    }
    assert_eq!(
        snapshot.listeners.len(),
        unique(statics.listeners.iter().map(|l| l.name.as_str()))
    );
    assert_eq!(
        snapshot.clusters.len(),
        unique(statics.clusters.iter().map(|c| c.name.as_str()))
    );
}

fn unique<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.collect::<std::collections::HashSet<_>>().len()
}

fn check_refusal(error: &BootstrapError, file: &str, text: &str) {
    let message = error.to_string();
    let detail = message
        .strip_prefix(&format!("bootstrap {file}: "))
        .unwrap_or_else(|| panic!("{message:?} does not name the file {file}"));
    assert!(
        !detail.trim().is_empty(),
        "{message:?} does not say what is wrong"
    );
    match error {
        BootstrapError::Invalid { field, reason, .. } => {
            assert!(!field.is_root(), "{message:?} names no field");
            assert!(!reason.is_empty(), "{message:?} gives no reason");
        }
        BootstrapError::Resource { field, source, .. } => {
            assert!(!field.is_root(), "{message:?} names no resource");
            assert!(!source.path.is_root(), "{message:?} names no field");
            assert!(!source.reason.is_empty(), "{message:?} gives no reason");
        }
        BootstrapError::Parse { .. } => {}
        BootstrapError::Read { .. } => panic!("parsing {} bytes read a file", text.len()),
    }
}
