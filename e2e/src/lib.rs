//! The mesh.rs end-to-end scenario suite.
//!
//! It will hold one set of scenarios (bookinfo routing, traffic shifting, fault injection,
//! mutual TLS and authorization, resilience to a restarting control plane) run on two
//! substrates: a local "cluster" of network namespaces with real iptables capture, addressed
//! from 198.18.0.0/15, and a kind cluster. It holds no scenario yet.

#![forbid(unsafe_code)]
