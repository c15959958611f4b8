use pretty_assertions::assert_eq;

use super::{mode::choose_mode, *};

const EXPLICIT: &str = "explicit-proxy mode — workloads on loopback, no traffic capture: a \
                        call goes through the caller's sidecar only (http_proxy), never the \
                        callee's";
const HINT: &str = " (run as root for the namespace mode)\n";

fn choose(mode: Option<Mode>, mesh: bool, root: bool) -> (Result<Mode, String>, String) {
    let options = UpOptions {
        mode,
        mesh,
        ..UpOptions::new("/nonexistent")
    };
    let mut progress = Vec::new();
    let chosen = choose_mode(&options, root, &mut progress).map_err(|e| e.to_string());
    (chosen, String::from_utf8(progress).unwrap())
}

#[test]
fn root_gets_namespaces_and_others_explicit_mode_saying_why() {
    assert_eq!(
        choose(None, true, true),
        (
            Ok(Mode::Namespaces),
            "namespace mode — a network namespace per workload, traffic captured by its \
             sidecar\n"
                .to_string()
        )
    );
    assert_eq!(
        choose(None, true, false),
        (Ok(Mode::Explicit), format!("not root: {EXPLICIT}{HINT}"))
    );
}

#[test]
fn a_mode_asked_for_is_taken_when_allowed() {
    assert_eq!(
        choose(Some(Mode::Explicit), true, true),
        (Ok(Mode::Explicit), format!("{EXPLICIT}\n"))
    );
    assert_eq!(
        choose(Some(Mode::Explicit), true, false),
        (Ok(Mode::Explicit), format!("{EXPLICIT}{HINT}"))
    );
    assert_eq!(
        choose(Some(Mode::Namespaces), true, false),
        (
            Err(
                "meshctl local's namespace mode needs root: it creates network namespaces, a \
                 bridge and iptables rules (run it with sudo, or use --mode explicit)"
                    .to_string()
            ),
            String::new()
        )
    );
}

#[test]
fn explicit_mode_needs_the_mesh() {
    assert_eq!(
        choose(None, false, false),
        (
            Err(
                "explicit mode needs the mesh: its workloads reach each other only through \
                 their sidecars"
                    .to_string()
            ),
            String::new()
        )
    );
    assert_eq!(choose(None, false, true).0, Ok(Mode::Namespaces));
}
