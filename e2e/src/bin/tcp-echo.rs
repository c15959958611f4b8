//! `tcp-echo`: the TCP workload of the traffic-shifting scenario, after Istio's tcp-echo sample.
//!
//! ```text
//! tcp-echo serve PORT PREFIX          answer every line with "PREFIX line"
//! tcp-echo send HOST:PORT MESSAGE [N] open N connections (default 1), one line each, and
//!                                     print each answer on a line of its own
//! ```
//!
//! The server speaks first never: a proxy in front of it has to sniff the client's bytes, as
//! for any client-first protocol. Every wait is bounded, so a broken mesh fails a scenario
//! rather than hanging it.

use std::{
    io::{BufRead, BufReader, Write},
    net::{TcpListener, TcpStream, ToSocketAddrs},
    process::ExitCode,
    time::Duration,
};

/// How long either side waits for the other before giving the connection up.
const PATIENCE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve", port, prefix] => serve(port, prefix),
        ["send", address, message] => send(address, message, "1"),
        ["send", address, message, count] => send(address, message, count),
        _ => Err("usage: tcp-echo serve PORT PREFIX | tcp-echo send HOST:PORT MESSAGE [N]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tcp-echo: {error}");
            ExitCode::FAILURE
        }
    }
}

fn serve(port: &str, prefix: &str) -> Result<(), String> {
    let port: u16 = port.parse().map_err(|e| format!("PORT {port:?}: {e}"))?;
    let listener =
        TcpListener::bind(("0.0.0.0", port)).map_err(|e| format!("listen on {port}: {e}"))?;
    eprintln!("tcp-echo: listening on {port}, answering with {prefix:?}");
    for connection in listener.incoming() {
        let Ok(connection) = connection else { continue };
        let prefix = prefix.to_owned();
        std::thread::spawn(move || {
            if let Err(error) = echo(connection, &prefix) {
                eprintln!("tcp-echo: connection: {error}");
            }
        });
    }
    Ok(())
}

/// Answers each line of `connection` until the client closes it or goes quiet.
fn echo(connection: TcpStream, prefix: &str) -> std::io::Result<()> {
    connection.set_read_timeout(Some(PATIENCE))?;
    let mut writer = connection.try_clone()?;
    for line in BufReader::new(connection).lines() {
        writeln!(writer, "{prefix} {}", line?)?;
    }
    Ok(())
}

fn send(address: &str, message: &str, count: &str) -> Result<(), String> {
    let count: u32 = count.parse().map_err(|e| format!("N {count:?}: {e}"))?;
    let target = address
        .to_socket_addrs()
        .map_err(|e| format!("resolve {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("{address} resolves to no address"))?;
    for i in 0..count {
        let answer = exchange(target, message).map_err(|e| format!("connection {i}: {e}"))?;
        println!("{answer}");
    }
    Ok(())
}

/// One connection: one line out, one line back.
fn exchange(target: std::net::SocketAddr, message: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&target, PATIENCE)?;
    stream.set_read_timeout(Some(PATIENCE))?;
    writeln!(stream, "{message}")?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed without an answer",
        ));
    }
    Ok(answer.trim_end().to_owned())
}
