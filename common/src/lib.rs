//! The shared vocabulary of mesh.rs.
//!
//! Everything that the proxy, the control plane and `meshctl` must agree on lives here, once:
//! the Istio-compatible resource types ([`api`]), which of their fields mesh.rs honours
//! ([`support`]), how they are checked ([`validate`]) and read from files ([`load`]), workload
//! identity ([`identity`]) and the names and ports fixed by the design ([`well_known`], [`xds`]).

#![forbid(unsafe_code)]

pub mod api;
pub mod identity;
pub mod load;
pub mod path;
pub mod support;
pub mod validate;
pub mod well_known;
pub mod xds;
