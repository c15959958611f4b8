//! HTTP/1.1 spoken by hand over TCP, for upgrades: after the head, the bytes are no longer HTTP.

use std::net::SocketAddr;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// The longest head [`read_head`] reads.
const MAX_HEAD: usize = 8192;

/// Reads an HTTP/1.1 head byte by byte, so that nothing after it is consumed.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") && head.len() < MAX_HEAD {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// A server that accepts a WebSocket upgrade of `GET /ws` with 101 and then echoes raw bytes;
/// anything else gets a 400.
pub async fn websocket_echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let head = read_head(&mut stream).await.to_ascii_lowercase();
                let upgrade = head.starts_with("get /ws http/1.1")
                    && head.contains("connection: upgrade")
                    && head.contains("upgrade: websocket");
                let reply: &[u8] = if upgrade {
                    b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n"
                } else {
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"
                };
                stream.write_all(reply).await.unwrap();
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    addr
}
