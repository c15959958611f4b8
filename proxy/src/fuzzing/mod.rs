//! The bodies of the fuzz targets in `proxy/fuzz`, as plain functions over arbitrary bytes.
//!
//! Each function panics only when a guarantee of the code under test breaks, so libFuzzer runs
//! them as they are, and `cargo test` runs them too, on bounded, deterministic mutations of the
//! same seeds (`bootstrap/mutation_tests.rs`, `config/compile/mutation_tests.rs`). Not an API:
//! hidden from the documentation, for the fuzz crate and the tests only.

mod bootstrap;
mod mutate;
mod xds_resource;

/// What a fuzz body made of its input, so that tests can tell that mutations reach past the
/// decoder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// Too short to mean anything.
    Empty,
    /// The bytes are not the format (YAML, JSON, protobuf) at all, or not the schema.
    Malformed,
    /// Well-formed, and refused with an error naming what is wrong.
    Refused,
    /// Accepted.
    Accepted,
}

pub use self::{
    bootstrap::bootstrap,
    mutate::Mutator,
    xds_resource::{XDS_TYPES, xds_resource},
};
