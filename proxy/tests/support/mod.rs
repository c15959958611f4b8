//! What the binary-level tests share: bootstrap files, free ports, an upstream that says what
//! it received, a raw HTTP/1.1 client, and process guards.

#![allow(dead_code)] // Each test binary uses a different part.

pub mod bootstrap;
pub mod side_by_side;

use std::{
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use mesh_testing::Patience;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A port that was free a moment ago: proxies bind their listeners from a file, so a test
/// cannot hand them a bound socket.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("bound address").port()
}

/// An upstream that answers every request with `path=<path> <header>=<value> …` for the
/// headers in `echo` (`-` when absent), so tests see what the proxy forwarded.
pub async fn echo_upstream(echo: &'static [&'static str]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Some(head) = read_head(&mut stream).await else {
                    return;
                };
                let mut lines = head.split("\r\n");
                let path = lines
                    .next()
                    .and_then(|l| l.split(' ').nth(1))
                    .unwrap_or("?")
                    .to_owned();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let mut body = format!("path={path}");
                for name in echo {
                    let value = headers
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or("-", |(_, v)| v.as_str());
                    body.push_str(&format!(" {name}={value}"));
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    address
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut request = Vec::new();
    let mut buffer = [0; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    Some(String::from_utf8_lossy(&request).into_owned())
}

/// A response as the tests compare it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Lower-cased header names.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request with `connection: close` and reads the whole response.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Response, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let mut text = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        text.push_str("host: example\r\n");
    }
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    stream
        .write_all(text.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .await
        .map_err(|e| e.to_string())?;
    parse(&String::from_utf8_lossy(&raw))
}

/// The first answer to `GET path` on `port`, asked again until the process listens, for at
/// most `patience`.
pub async fn first_answer(port: u16, path: &str, patience: Duration) -> Response {
    Patience::new(patience)
        .eventually(|| request(port, "GET", path, &[]))
        .await
        .unwrap_or_else(|e| panic!("nothing answers GET {path} on port {port}: {e:?}"))
}

fn parse(raw: &str) -> Result<Response, String> {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of headers in {raw:?}"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no status line in {raw:?}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// A child process killed when the test ends, however it ends.
pub struct Process(pub Child);

impl Process {
    pub fn spawn(command: &mut Command) -> Self {
        Self(
            command
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the process starts"),
        )
    }
}

/// A stock Envoy on `bootstrap`, with one worker and only errors logged. Several Envoys may
/// run at once, so hot restart (shared memory keyed by a base id) is turned off.
pub fn start_envoy(envoy: &Path, bootstrap: &Path) -> Process {
    Process::spawn(
        Command::new(envoy)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "-l",
                "error",
                "-c",
            ])
            .arg(bootstrap),
    )
}

/// mesh-proxy on `bootstrap`, with no health or metrics listener to collide on.
pub fn start_mesh_proxy(bootstrap: &Path) -> Process {
    Process::spawn(
        bootstrap::mesh_proxy_run(bootstrap)
            .args(["--health-address=none", "--metrics-address=none"]),
    )
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP upstream that reads until the client's end of stream, then answers `reply` and closes.
pub async fn tcp_reply_upstream(reply: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("bound address");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut request = Vec::new();
                if stream.read_to_end(&mut request).await.is_ok() {
                    let _ = stream.write_all(reply).await;
                }
            });
        }
    });
    address
}

/// Like [`Process::spawn`], with stdout (the access log) readable line by line from the
/// returned channel.
pub fn spawn_with_stdout(command: &mut Command) -> (Process, std::sync::mpsc::Receiver<String>) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the process starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { return };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    (Process(child), received)
}
