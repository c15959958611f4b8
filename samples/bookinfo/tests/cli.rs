//! The `bookinfo` binary: its command line, its request log, and a clean exit on SIGTERM.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, ChildStdout, Command, Output, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_bookinfo");

/// The short help, as printed with an empty environment (clap shows each variable's value).
const SHORT_HELP: &str = "\
The bookinfo sample application of mesh.rs, written in Rust.

Usage: bookinfo [OPTIONS] <SERVICE>

Arguments:
  <SERVICE>  Which service to run [possible values: productpage, details, reviews, ratings]

Options:
      --bind <BIND>
          The address to listen on [default: 0.0.0.0]
      --port <PORT>
          The port to listen on [env: PORT=] [default: 9080]
      --service-version <SERVICE_VERSION>
          The reviews version: v1 shows no stars, v2 black stars, v3 red stars [env: SERVICE_VERSION=] [default: v1] [possible values: v1, v2, v3]
      --details-hostname <DETAILS_HOSTNAME>
          The details service's host name or `host:port` [env: DETAILS_HOSTNAME=]
      --details-port <DETAILS_PORT>
          The details service's port, when the host name has none [env: DETAILS_SERVICE_PORT=]
      --reviews-hostname <REVIEWS_HOSTNAME>
          The reviews service's host name or `host:port` [env: REVIEWS_HOSTNAME=]
      --reviews-port <REVIEWS_PORT>
          The reviews service's port, when the host name has none [env: REVIEWS_SERVICE_PORT=]
      --ratings-hostname <RATINGS_HOSTNAME>
          The ratings service's host name or `host:port` [env: RATINGS_HOSTNAME=]
      --ratings-port <RATINGS_PORT>
          The ratings service's port, when the host name has none [env: RATINGS_SERVICE_PORT=]
      --services-domain <SERVICES_DOMAIN>
          A domain appended to the default upstream names (`details.<domain>`) [env: SERVICES_DOMAIN=]
      --http-proxy <HTTP_PROXY>
          An HTTP proxy to send every upstream request to, in absolute form (also `HTTP_PROXY`) [env: http_proxy=]
      --podname <PODNAME>
          The name reviews reports as `podname` [env: HOSTNAME=] [default: reviews]
  -h, --help
          Print help (see more with '--help')
  -V, --version
          Print version
";

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .output()
        .expect("the binary runs")
}

#[test]
fn short_help_lists_the_services_and_flags() {
    let output = run(&["-h"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8(output.stdout).unwrap(), SHORT_HELP);
}

#[test]
fn version_prints_the_crate_version() {
    let output = run(&["--version"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        concat!("bookinfo ", env!("CARGO_PKG_VERSION"), "\n")
    );
}

#[test]
fn without_arguments_it_prints_the_help_and_exits_2() {
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(String::from_utf8(output.stderr).unwrap(), SHORT_HELP);
}

#[test]
fn an_unknown_service_is_a_usage_error() {
    let output = run(&["frontpage"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: invalid value 'frontpage' for '<SERVICE>'\n"),
        "{stderr}"
    );
}

#[test]
fn a_bad_upstream_address_is_reported_before_serving() {
    let output = Command::new(BIN)
        .args(["productpage", "--bind", "127.0.0.1", "--port", "0"])
        .env_clear()
        .env("DETAILS_HOSTNAME", "details:http")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "Error: DETAILS_HOSTNAME: invalid port in \"details:http\"\n"
    );
}

/// The next stdout line containing `needle`, within a bounded wait.
fn line_with(lines: &mpsc::Receiver<String>, needle: &str) -> String {
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("no line with {needle:?}: {e}"));
        if line.contains(needle) {
            return line;
        }
    }
}

fn lines_of(stdout: ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn exit_code(mut child: Child) -> Option<i32> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the service exits in time")
        .expect("waiting for the service works");
    status.code()
}

#[test]
fn it_logs_each_request_and_exits_0_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["details", "--bind", "127.0.0.1", "--port", "0"])
        .env_clear()
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = lines_of(child.stdout.take().unwrap());
    let listening = line_with(&lines, "listening");
    let addr = listening.rsplit("addr=").next().unwrap().trim().to_string();

    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .write_all(b"GET /details/1 HTTP/1.1\r\nhost: details\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    let logged = line_with(&lines, "request");
    assert!(
        logged.contains("method=GET path=/details/1 status=200 duration_ms="),
        "{logged}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(exit_code(child), Some(0));
}
