use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match mesh_proxy::run_with(mesh_proxy::Args::parse(), release_memory()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// glibc's malloc keeps the pages that a burst of allocations freed (reading the configuration)
/// resident until `malloc_trim` gives them back.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_memory() -> Option<mesh_proxy::MemoryRelease> {
    Some(mesh_proxy::MemoryRelease::new(malloc_trim))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_memory() -> Option<mesh_proxy::MemoryRelease> {
    None
}

/// The proxy's one call into C: the library forbids unsafe code, the binary allows it here only.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn malloc_trim() {
    // SAFETY: `malloc_trim` takes no pointer and touches only the allocator's own free memory,
    // under the allocator's locks; any thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
