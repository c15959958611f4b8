//! Any resource bytes, decoded as the xDS type the first byte picks and compiled: no panic, and
//! a refusal is a clean NACK (`mesh_proxy::fuzzing::xds_resource`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mesh_proxy::fuzzing::xds_resource(data);
});
