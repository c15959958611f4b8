//! The mesh.rs data plane: the sidecar and gateway proxy, configured over Envoy's xDS v3.
//!
//! The binary's command line lives here, not in `main.rs`, so that tests and `meshctl` can
//! build and inspect it.

#![forbid(unsafe_code)]

pub mod access_log;
pub mod admin;
mod app;
pub mod balance;
pub mod bootstrap;
pub mod capture;
mod cli;
pub mod config;
pub mod config_error;
pub mod detect;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod response_flags;
pub mod route;
pub mod serve;
mod socket_address;
pub mod stats;
pub mod tcp;
pub mod tls;
pub mod trace_export;
mod typed_config;
pub mod upstream;
pub mod xds_client;

pub use self::app::run;
pub use self::app::{MemoryRelease, run_with};
pub use self::cli::{Args, Command, InitArgs, LogFormat, RunArgs};
