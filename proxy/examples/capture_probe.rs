//! A stand-in for the proxy and its peers when checking iptables capture by hand or in the
//! network-namespace test.
//!
//! ```text
//! capture_probe serve <addr> <name> <count>   accept <count> connections on <addr>; answer each
//!                                             with "<name> <original destination>"
//! capture_probe connect <addr>                connect to <addr> and print the answer
//! ```
//!
//! `serve` prints `listening` once bound, so a caller can wait for it instead of sleeping.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use mesh_proxy::capture::original_dst;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Nothing the probe does takes longer; a capture that went wrong must not hang the caller.
const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["serve", addr, name, count] => serve(addr.parse()?, name, count.parse()?).await,
        ["connect", addr] => connect(addr.parse()?).await,
        _ => bail!("usage: capture_probe serve <addr> <name> <count> | connect <addr>"),
    }
}

async fn serve(addr: SocketAddr, name: &str, count: usize) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    println!("listening");
    for _ in 0..count {
        let (mut stream, _) = tokio::time::timeout(PATIENCE, listener.accept())
            .await
            .context("no connection came")??;
        let dst = match original_dst(&stream) {
            Ok(dst) => dst.to_string(),
            Err(error) => format!("none ({error})"),
        };
        stream
            .write_all(format!("{name} {dst}\n").as_bytes())
            .await?;
        stream.shutdown().await?;
    }
    Ok(())
}

async fn connect(addr: SocketAddr) -> anyhow::Result<()> {
    let mut stream = tokio::time::timeout(PATIENCE, TcpStream::connect(addr))
        .await
        .with_context(|| format!("connecting to {addr} timed out"))??;
    let mut answer = String::new();
    tokio::time::timeout(PATIENCE, stream.read_to_string(&mut answer))
        .await
        .context("no answer")??;
    print!("{answer}");
    Ok(())
}
