//! Test support shared by the mesh.rs crates.
//!
//! Tests wait for conditions, not for time: [`eventually`] polls a check with bounded patience
//! on tokio's clock, so it works under `start_paused` and fails with the last reason it saw.
//! Real peers (Envoy, iptables) are found through [`external`], which never lets a missing one
//! pass silently under CI.

#![forbid(unsafe_code)]

pub mod command;
mod eventually;
pub mod external;

pub use self::eventually::{NoneYet, Outcome, Patience, TimedOut, eventually};
