//! Traffic capture: the iptables rules that send a pod's TCP traffic through the proxy, and the
//! original destination of a redirected connection.
//!
//! `mesh-proxy init` builds a [`CaptureConfig`] from its flags, then [`apply`]s it (or prints
//! [`CaptureConfig::restore_script`] with `--dry-run`). The rules live in the `nat` table of the
//! pod's network namespace; see [`rules`] for their layout.

mod apply;
mod config;
mod original_dst;
pub mod rules;

#[cfg(test)]
mod tests;

pub use self::apply::{CaptureError, Exec, Exit, SystemExec, apply, cleanup, cleanup_commands};
pub use self::config::{CaptureConfig, InputError, Ipv4Cidr, List, Port, Selection};
pub use self::original_dst::{OriginalDst, original_dst};
pub use self::rules::Rule;
