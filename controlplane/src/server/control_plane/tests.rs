use std::net::{Ipv4Addr, SocketAddr};

use tokio::{net::TcpStream, task::JoinSet, time::Instant};

use super::*;

/// More than the default backlog of 128, fewer than a process's default limit of descriptors.
const CLIENTS: usize = 512;

#[tokio::test]
async fn the_kernel_completes_hundreds_of_connections_the_server_has_not_accepted_yet() {
    let listener = bind("the xDS server", SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    // Nothing accepts: the connections wait in the backlog, as when the server is busy.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut connects = JoinSet::new();
    for _ in 0..CLIENTS {
        connects.spawn(tokio::time::timeout_at(
            deadline,
            TcpStream::connect(address),
        ));
    }
    let mut connected = Vec::with_capacity(CLIENTS);
    while let Some(joined) = connects.join_next().await {
        // A handshake past the backlog is dropped: its connect would retry until the deadline.
        connected.push(joined.unwrap().expect("connect timed out").unwrap());
    }
    assert_eq!(connected.len(), CLIENTS);
    drop(listener);
}
