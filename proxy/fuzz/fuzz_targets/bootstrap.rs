//! Any bootstrap file contents, as YAML and as JSON: parsing must not panic, and a refusal must
//! name the file and what is wrong (`mesh_proxy::fuzzing::bootstrap`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mesh_proxy::fuzzing::bootstrap(data);
});
