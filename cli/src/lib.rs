//! `meshctl`'s library: the parts of the command line that tests drive directly.

#![forbid(unsafe_code)]

pub mod local;
