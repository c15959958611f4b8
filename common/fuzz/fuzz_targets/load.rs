//! Any bytes, read as a YAML or JSON stream: the loader must not panic, must not hang, and must
//! give every error a line.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mesh_common::load::{LoadOptions, load_str};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let options = LoadOptions::default();
    // The name decides the format: YAML, JSON, or sniffed from the first character.
    for name in ["fuzz.yaml", "fuzz.json", "<stdin>"] {
        let result = load_str(&text, Path::new(name), &options);
        for error in &result.errors {
            assert!(error.origin.line >= 1, "{error}");
            assert_eq!(error.origin.file, Path::new(name));
            assert!(!error.reason.is_empty(), "{error:?}");
            // Displaying must not panic either.
            let _ = error.to_string();
        }
        for loaded in &result.resources {
            assert!(loaded.origin.line >= 1);
            assert!(!loaded.object.name().is_empty());
            // A Namespace is cluster-scoped; every other object gets the default namespace.
            let namespaced = loaded.object.kind().is_namespaced();
            assert_eq!(loaded.object.namespace().is_empty(), !namespaced);
        }
    }
});
