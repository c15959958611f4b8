//! A binary run as a user runs it, to its end: its exit code and exactly what it printed.

use std::process::{Command, Output};

/// Runs `command` to its end and checks that it exits with `code` and prints exactly `stdout`
/// on its standard output.
#[track_caller]
pub fn assert_stdout(command: &mut Command, code: i32, stdout: &str) {
    assert_output(command, code, ("stdout", |output| output.stdout), stdout);
}

/// Runs `command` to its end and checks that it exits with `code` and prints exactly `stderr`
/// on its standard error.
#[track_caller]
pub fn assert_stderr(command: &mut Command, code: i32, stderr: &str) {
    assert_output(command, code, ("stderr", |output| output.stderr), stderr);
}

/// The checks of both: `stream` names the output checked and takes it from the others.
#[track_caller]
fn assert_output(
    command: &mut Command,
    code: i32,
    (name, stream): (&str, fn(Output) -> Vec<u8>),
    expected: &str,
) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?} does not run: {error}"));
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code of {command:?}; stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(stream(output))
        .unwrap_or_else(|error| panic!("{name} of {command:?} is not UTF-8: {error}"));
    assert_eq!(text, expected, "{name} of {command:?}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(script: &str) -> Command {
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        command
    }

    #[test]
    fn checks_the_code_and_the_stream() {
        let script = "printf 'out\\n'; printf 'err\\n' >&2; exit 3";
        assert_stdout(&mut shell(script), 3, "out\n");
        assert_stderr(&mut shell(script), 3, "err\n");
    }

    #[test]
    #[should_panic(expected = "exit code of")]
    fn another_code_fails() {
        assert_stdout(&mut shell("printf out; exit 1"), 0, "out");
    }

    #[test]
    #[should_panic(expected = "stdout of")]
    fn other_output_fails() {
        assert_stdout(&mut shell("printf out"), 0, "out\n");
    }
}
