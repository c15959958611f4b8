//! The mesh.rs end-to-end scenario suite.
//!
//! One set of scenarios ([`scenarios`]) written against one small interface ([`Cluster`]):
//! apply and delete Istio config, run a command in a workload's pod, reach the gateway, read a
//! proxy's admin server. Requests are curl commands run here or inside a pod, so every
//! substrate sends the same bytes. The local substrate ([`local::LocalCluster`]: network
//! namespaces with real iptables capture, through `meshctl local`) runs in CI; a Kubernetes
//! substrate implements the same trait when `meshctl install` lands.

#![forbid(unsafe_code)]

pub mod cluster;
pub mod http;
pub mod local;
pub mod scenarios;

pub use self::cluster::{Cluster, ClusterError};
