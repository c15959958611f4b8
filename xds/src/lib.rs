//! Envoy's xDS v3 as both sides of mesh.rs use it.
//!
//! - [`bootstrap`]: the bootstrap a proxy starts from, and its Envoy node.
//! - [`json`]: Envoy's protobuf JSON mapping for the envoy-types messages, for bootstrap files,
//!   config dumps and golden files.
//! - [`resource`]: the resource kinds mesh.rs serves, and their packing into `Any`.

#![forbid(unsafe_code)]

pub mod bootstrap;
pub mod json;
pub mod resource;

pub use json::JsonError;
pub use resource::{Resource, ResourceError, ResourceType};
