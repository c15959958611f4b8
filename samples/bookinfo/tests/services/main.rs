//! The four services over real HTTP on 127.0.0.1, each alone and wired together.

// The helpers shared by the tests fail the test the same way the tests do.
#![allow(clippy::unwrap_used)]

mod details;
mod productpage;
mod proxy;
mod ratings;
mod reviews;
mod shutdown;
mod support;
