//! The connection manager end to end on loopback: a test client, the proxy serving one accepted
//! connection at a time through [`serve_connection`], and hyper upstream servers.

mod circuit_breaking;
mod codec;
mod failures;
mod faults;
mod forwarded_for;
mod lifecycle;
mod outlier;
mod protocols;
mod retries;
mod routing;
mod support;
mod timeouts;
