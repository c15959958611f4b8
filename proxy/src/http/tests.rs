//! The connection manager end to end on loopback: a test client, the proxy serving one accepted
//! connection at a time through [`serve_connection`], and hyper upstream servers.

mod circuit_breaking;
mod codec;
mod cors;
mod failures;
mod faults;
mod forwarded_for;
mod grpc_replies;
mod h2_upgrade;
mod hashing;
mod header_timeout;
mod lifecycle;
mod mirror;
mod outlier;
mod protocols;
mod retries;
mod routing;
mod shadow_body;
mod shadows;
mod stream_cap;
mod support;
mod timeouts;
