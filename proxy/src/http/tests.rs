//! The connection manager end to end on loopback: a test client, the proxy serving one accepted
//! connection at a time through [`serve_connection`], and hyper upstream servers.

mod circuit_breaking;
mod failures;
mod faults;
mod lifecycle;
mod protocols;
mod retries;
mod routing;
mod support;
